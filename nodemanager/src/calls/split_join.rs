//! Splitting a vessel in two and joining two into one (nodemanager.md §6): the vessel
//! table changes in a transaction, and files follow the commit.

use std::fs;

use serde_json::json;

use super::Outcome;
use crate::{
    node::{internal, Node},
    request::{err, Code, NmError},
    resources,
    state::{self, VesselRecord},
};

impl Node {
    pub(super) fn read_restrictions(&self, vessel: &str) -> Result<repy_policy::Restrictions, NmError> {
        let text = fs::read_to_string(self.layout.restrictions(vessel)).map_err(|e| internal("reading restrictions", e))?;
        resources::parse_text(&text).map_err(|e| internal(&format!("parsing the restrictions of {vessel}"), e))
    }

    /// Creates a Fresh vessel copying `template`'s keys, info and advertise; returns its name.
    fn create_vessel(&mut self, template: &VesselRecord, restrictions: &repy_policy::Restrictions) -> Result<String, NmError> {
        let name = self.state.allocate_name();
        state::write_atomic(&self.layout.tmp(), &self.layout.restrictions(&name), restrictions.to_canonical_text().as_bytes())
            .map_err(|e| internal("writing a restrictions file", e))?;
        let dir = self.layout.vessel_dir(&name);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| internal("clearing a leftover vessel directory", e))?;
        }
        fs::create_dir(&dir).map_err(|e| internal("creating a vessel directory", e))?;
        let mut record = VesselRecord::new(name.clone(), template.owner_key.clone());
        record.user_keys = template.user_keys.clone();
        record.owner_info = template.owner_info.clone();
        record.advertise = template.advertise;
        self.state.vessels.insert(name.clone(), record);
        Ok(name)
    }

    /// Removes a vessel's files (after the commit that dropped it).
    fn destroy_files(&self, vessel: &str) {
        let _ = fs::remove_dir_all(self.layout.vessel_dir(vessel));
        let _ = fs::remove_file(self.layout.restrictions(vessel));
        for path in self.layout.log_files(vessel).into_iter().chain([self.layout.termination_report(vessel)]) {
            let _ = fs::remove_file(path);
        }
    }

    /// Runs `change` on a copy of the vessel table; on failure the table is restored and any
    /// files created for new vessels are removed.
    fn transaction(&mut self, change: impl FnOnce(&mut Node) -> Result<Outcome, NmError>) -> Result<Outcome, NmError> {
        let before = self.state.clone();
        let result = change(self);
        if result.is_err() {
            let created: Vec<String> = self.state.vessels.keys().filter(|k| !before.vessels.contains_key(*k)).cloned().collect();
            self.state = before;
            for name in created {
                self.destroy_files(&name);
            }
        }
        result
    }

    pub(super) fn split(&mut self, vessel: &str, proposed: &str) -> Result<Outcome, NmError> {
        self.not_started(vessel, "splitting it")?;
        if self.state.vessels.len() + 1 > self.config.max_vessels {
            return err(
                Code::LimitExceeded,
                format!(
                    "splitting {vessel} would make {} vessels, over max_vessels {}",
                    self.state.vessels.len() + 1,
                    self.config.max_vessels
                ),
            );
        }
        let original = self.read_restrictions(vessel)?;
        let (leftover, new) = resources::split(&original, &self.offcut, proposed)?;
        let template = self.record(vessel).clone();
        let vessel = vessel.to_string();
        self.transaction(|node| {
            let first = node.create_vessel(&template, &leftover)?;
            let second = node.create_vessel(&template, &new)?;
            node.state.vessels.remove(&vessel);
            node.commit()?;
            node.destroy_files(&vessel);
            Ok((json!({"vessels": [first, second]}), None))
        })
    }

    pub(super) fn join(&mut self, vessel: &str, vessel2: &str) -> Result<Outcome, NmError> {
        if vessel == vessel2 {
            return err(Code::BadArguments, format!("JoinVessels needs two distinct vessels, got '{vessel}' twice"));
        }
        self.not_started(vessel, "joining it")?;
        self.not_started(vessel2, "joining it")?;
        let a = self.read_restrictions(vessel)?;
        let b = self.read_restrictions(vessel2)?;
        let joined = resources::join(&a, &b, &self.offcut)?;
        let template = self.record(vessel).clone();
        let (vessel, vessel2) = (vessel.to_string(), vessel2.to_string());
        self.transaction(|node| {
            let name = node.create_vessel(&template, &joined)?;
            node.state.vessels.remove(&vessel);
            node.state.vessels.remove(&vessel2);
            node.commit()?;
            node.destroy_files(&vessel);
            node.destroy_files(&vessel2);
            Ok((json!({"vessel": name}), None))
        })
    }
}
