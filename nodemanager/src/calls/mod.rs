//! The requests of nodemanager.md §4: who may make each (§3.3 steps 7–8) and their
//! execution, one file per concern:
//!
//! | file | calls |
//! |---|---|
//! | `arguments.rs` | every call's typed arguments, and the shared argument checks |
//! | `lifecycle.rs` | GetVessels, GetVesselResources, GetOffcutResources, StartVessel(Ex), StopVessel, ResetVessel |
//! | `files.rs` | AddFileToVessel, ListFilesInVessel, RetrieveFileFromVessel, DeleteFileInVessel, ReadVesselLog |
//! | `ownership.rs` | ChangeOwner, ChangeUsers, ChangeOwnerInformation, ChangeAdvertise |
//! | `split_join.rs` | SplitVessel, JoinVessels |

mod arguments;
mod files;
mod lifecycle;
mod ownership;
mod split_join;

use serde_json::{json, Value};

use self::arguments::{parse_call, Call};
use crate::{
    node::Node,
    request::{err, Checked, Code, NmError},
    state::{Status, VesselRecord},
};

/// Who may make a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Public,
    User,
    Owner,
}

pub const CALLS: &[(&str, Role)] = &[
    ("GetVessels", Role::Public),
    ("GetVesselResources", Role::Public),
    ("GetOffcutResources", Role::Public),
    ("StartVessel", Role::User),
    ("StartVesselEx", Role::User),
    ("StopVessel", Role::User),
    ("AddFileToVessel", Role::User),
    ("ListFilesInVessel", Role::User),
    ("RetrieveFileFromVessel", Role::User),
    ("DeleteFileInVessel", Role::User),
    ("ReadVesselLog", Role::User),
    ("ResetVessel", Role::User),
    ("ChangeOwner", Role::Owner),
    ("ChangeUsers", Role::Owner),
    ("ChangeOwnerInformation", Role::Owner),
    ("ChangeAdvertise", Role::Owner),
    ("SplitVessel", Role::Owner),
    ("JoinVessels", Role::Owner),
];

pub fn role_of(call: &str) -> Option<Role> {
    CALLS.iter().find(|(name, _)| *name == call).map(|&(_, role)| role)
}

/// A successful result and an optional warning.
pub type Outcome = (Value, Option<String>);

impl Node {
    /// Steps 6–9 of §3.3 for a request whose signature (if any) was checked.
    pub fn handle(&mut self, checked: Checked) -> Result<Outcome, NmError> {
        self.admit(&checked)?;
        if let Some(signer) = &checked.signer {
            self.persist_seq(&[signer.key.as_str()])?;
        }
        self.handle_admitted(checked)
    }
    /// Step 6 of §3.3 without the durable write: an unsigned request must be a public call;
    /// a signed one's sequence number is accepted in memory. The caller persists it (for a
    /// whole batch of requests at once) before calling [`handle_admitted`](Self::handle_admitted).
    pub fn admit(&mut self, checked: &Checked) -> Result<(), NmError> {
        match &checked.signer {
            None => {
                let role =
                    role_of(&checked.call).ok_or_else(|| NmError::new(Code::UnknownCall, format!("unknown call '{}'", checked.call)))?;
                if role != Role::Public {
                    return err(Code::BadSignature, format!("signature required: {} is not a public call", checked.call));
                }
                Ok(())
            }
            Some(signer) => self.admit_seq(signer),
        }
    }
    /// Steps 7–9 of §3.3 for an admitted request whose sequence number is durable.
    pub fn handle_admitted(&mut self, checked: Checked) -> Result<Outcome, NmError> {
        let role = role_of(&checked.call);
        let call = parse_call(&checked.call, checked.args)?;
        let role = role.expect("parse_call knows only listed calls");
        for name in call.vessels() {
            let Some(record) = self.state.vessels.get(name) else {
                return err(Code::NoSuchVessel, format!("no vessel named '{name}'"));
            };
            if role == Role::Public {
                continue;
            }
            let key = &checked.signer.as_ref().expect("checked above").key;
            let allowed = match role {
                Role::User => record.is_user(key),
                _ => record.owner_key == *key,
            };
            if !allowed {
                if let Call::Join(j) = &call {
                    if name == j.vessel2 && self.state.vessels[&j.vessel].owner_key == *key {
                        return err(Code::OwnerMismatch, format!("vessels '{}' and '{}' have different owners", j.vessel, j.vessel2));
                    }
                }
                let needed = if role == Role::User { "a user or the owner" } else { "the owner" };
                return err(Code::Forbidden, format!("key {} is not {needed} of vessel {name}", key.fingerprint()));
            }
        }
        self.execute(call)
    }
    fn record(&self, vessel: &str) -> &VesselRecord {
        &self.state.vessels[vessel]
    }
    fn record_mut(&mut self, vessel: &str) -> &mut VesselRecord {
        self.state.vessels.get_mut(vessel).expect("vessel checked before execution")
    }

    /// Runs an authorised call.
    fn execute(&mut self, call: Call) -> Result<Outcome, NmError> {
        let done = |v: Value| Ok((v, None));
        match call {
            Call::GetVessels => done(self.get_vessels()),
            Call::GetVesselResources(a) => self.vessel_resources(&a.vessel),
            Call::GetOffcutResources => done(json!({"resources": self.offcut.to_canonical_text()})),
            Call::StartVessel(a) => self.start(&a.vessel, &a.args),
            Call::StartVesselEx(a) => self.start_ex(&a.vessel, &a.platform, &a.args),
            Call::StopVessel(a) => self.stop(&a.vessel),
            Call::AddFile(a) => self.add_file(&a.vessel, &a.filename, &a.data),
            Call::ListFiles(a) => self.list_files(&a.vessel),
            Call::RetrieveFile(a) => self.retrieve_file(&a.vessel, &a.filename),
            Call::DeleteFile(a) => self.delete_file(&a.vessel, &a.filename),
            Call::ReadLog(a) => self.read_log(&a.vessel),
            Call::Reset(a) => self.reset(&a.vessel),
            Call::ChangeOwner(a) => self.change_owner(&a.vessel, &a.owner_key),
            Call::ChangeUsers(a) => self.change_users(&a.vessel, &a.user_keys),
            Call::ChangeOwnerInformation(a) => self.change_owner_information(&a.vessel, a.info),
            Call::ChangeAdvertise(a) => self.change_advertise(&a.vessel, a.advertise),
            Call::Split(a) => self.split(&a.vessel, &a.resources),
            Call::Join(a) => self.join(&a.vessel, &a.vessel2),
        }
    }

    fn not_started(&self, vessel: &str, what: &str) -> Result<(), NmError> {
        let status = self.record(vessel).status;
        if status == Status::Started {
            return err(Code::InvalidState, format!("vessel {vessel} is Started; stop it before {what}"));
        }
        Ok(())
    }
}
