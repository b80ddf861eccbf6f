//! Reading a node's vessels, and a vessel's program: start, stop, reset.

use std::fs;

use repy_contract::file_name;
use serde_json::{json, Value};

use super::Outcome;
use crate::{
    node::{internal, Node},
    protocol::{check_filename, check_start_args},
    request::{err, Code, NmError},
    state::Status,
};

impl Node {
    pub fn get_vessels(&self) -> Value {
        let vessels: Vec<Value> = self
            .state
            .sorted()
            .into_iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).expect("records serialise");
                v.as_object_mut().expect("records are objects").remove("last_start");
                v
            })
            .collect();
        json!({
            "node": {"name": self.config.node_name, "key": self.node_key.as_str(), "version": env!("CARGO_PKG_VERSION")},
            "vessels": vessels,
        })
    }

    pub(super) fn vessel_resources(&self, vessel: &str) -> Result<Outcome, NmError> {
        let path = self.layout.restrictions(vessel);
        let text = fs::read_to_string(&path).map_err(|e| internal("reading a restrictions file", e))?;
        Ok((json!({"resources": text}), None))
    }

    pub(super) fn start_ex(&mut self, vessel: &str, platform: &str, args: &[String]) -> Result<Outcome, NmError> {
        if !platform.eq_ignore_ascii_case("repyv1") {
            return err(Code::UnsupportedPlatform, format!("platform '{platform}' is not supported (only repyv1)"));
        }
        self.start(vessel, args)
    }

    pub(super) fn start(&mut self, vessel: &str, args: &[String]) -> Result<Outcome, NmError> {
        self.not_started(vessel, "starting it again")?;
        check_start_args(args)?;
        let program = &args[0];
        check_filename(program)?;
        // A regular file of the vessel itself: a symbolic link would run (and show in the
        // vessel's log) a file from elsewhere on the host.
        if !fs::symlink_metadata(self.layout.vessel_dir(vessel).join(program)).is_ok_and(|m| m.is_file()) {
            return err(Code::NoSuchFile, format!("vessel {vessel} has no file '{program}' to run"));
        }
        let pid = self.spawn(vessel, program, &args[1..]).map_err(|e| {
            tracing::error!("cannot start '{}' for vessel {vessel}: {e}", self.repy.display());
            internal(&format!("starting vessel {vessel}"), e)
        })?;
        self.record_start(vessel, program, &args[1..], pid);
        self.commit()?;
        Ok((json!({"status": "Started"}), None))
    }

    pub(super) fn stop(&mut self, vessel: &str) -> Result<Outcome, NmError> {
        if self.record(vessel).status != Status::Started {
            let status = self.record(vessel).status.as_str();
            return err(Code::InvalidState, format!("vessel {vessel} has status {status}; only a Started vessel can be stopped"));
        }
        let status = match self.stop_process(vessel) {
            Some((info, status)) => {
                self.record_exit(vessel, &info, status);
                status
            }
            None => {
                // Recorded as Started without a process (cannot happen after start-up): mark Stopped.
                self.record_mut(vessel).status = Status::Stopped;
                Status::Stopped
            }
        };
        self.commit()?;
        Ok((json!({"status": status.as_str()}), None))
    }

    /// ResetVessel: stopped, emptied (but for the operator's `private_` files), logs gone.
    pub(super) fn reset(&mut self, vessel: &str) -> Result<Outcome, NmError> {
        if self.record(vessel).status == Status::Started {
            self.stop_process(vessel);
        }
        for path in self.layout.log_files(vessel).into_iter().chain([self.layout.termination_report(vessel)]) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(internal("deleting a log", e)),
            }
        }
        let dir = self.layout.vessel_dir(vessel);
        for entry in fs::read_dir(&dir).map_err(|e| internal("listing a vessel", e))?.flatten() {
            if file_name::is_private(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let path = entry.path();
            let removed = if entry.metadata().is_ok_and(|m| m.is_dir()) { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            removed.map_err(|e| internal("emptying a vessel", e))?;
        }
        let record = self.record_mut(vessel);
        record.status = Status::Fresh;
        record.pid = None;
        record.last_start = None;
        record.last_exit = None;
        self.commit()?;
        Ok((json!({}), None))
    }
}
