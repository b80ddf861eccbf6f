//! Executing the requests of nodemanager.md §4 (their types, names and roles are in
//! [`crate::protocol`]): who may make each (§3.3 steps 7–8) here, and the calls one file per
//! concern:
//!
//! | file | calls |
//! |---|---|
//! | `mod.rs` | admission and authorisation of every call |
//! | `lifecycle.rs` | GetVessels, GetVesselResources, GetOffcutResources, StartVessel(Ex), StopVessel, ResetVessel |
//! | `files.rs` | AddFileToVessel, ListFilesInVessel, RetrieveFileFromVessel, DeleteFileInVessel, ReadVesselLog |
//! | `ownership.rs` | ChangeOwner, ChangeUsers, ChangeOwnerInformation, ChangeAdvertise |
//! | `split_join.rs` | SplitVessel, JoinVessels |

mod files;
mod lifecycle;
mod ownership;
mod split_join;

use serde_json::{json, Value};

use crate::{
    node::Node,
    protocol::{Request, Role},
    replay::Admitted,
    request::{err, Checked, Code, NmError},
    state::{Status, VesselRecord},
};

/// A successful result and an optional warning.
pub type Outcome = (Value, Option<String>);

/// What step 6 found out about an admitted request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    /// Its sequence number must be durable before it acts.
    pub durable: bool,
    /// It is signed by a key that holds a role on some vessel.
    pub role: bool,
}

impl Node {
    /// Steps 6–9 of §3.3 for a request whose signature (if any) was checked.
    pub fn handle(&mut self, checked: Checked) -> Result<Outcome, NmError> {
        let admission = self.admit(&checked)?;
        if let (Some(signer), true) = (&checked.signer, admission.durable) {
            self.persist_seq(&[signer.key.as_str()])?;
        }
        self.handle_admitted(checked)
    }
    /// Step 6 of §3.3 without the durable write: an unsigned request must be a public call;
    /// a signed one's sequence number is accepted in memory. The caller persists the numbers
    /// that must be durable (for a whole batch of requests at once) before calling
    /// [`handle_admitted`](Self::handle_admitted).
    pub fn admit(&mut self, checked: &Checked) -> Result<Admission, NmError> {
        match &checked.signer {
            None => {
                if Request::role_of(&checked.call)? != Role::Public {
                    return err(Code::BadSignature, format!("signature required: {} is not a public call", checked.call));
                }
                Ok(Admission { durable: false, role: false })
            }
            Some(signer) => {
                let role = self.has_role(&signer.key);
                let admitted = self.admit_seq(signer, role)?;
                Ok(Admission { durable: admitted == Admitted::Durable, role })
            }
        }
    }
    /// Steps 7–9 of §3.3 for an admitted request whose sequence number is durable.
    pub fn handle_admitted(&mut self, checked: Checked) -> Result<Outcome, NmError> {
        let call = Request::parse(&checked.call, checked.args)?;
        let role = call.role();
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
                if let Request::JoinVessels(j) = &call {
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
    fn execute(&mut self, call: Request) -> Result<Outcome, NmError> {
        let done = |v: Value| Ok((v, None));
        match call {
            Request::GetVessels(_) => done(self.get_vessels()),
            Request::GetVesselResources(a) => self.vessel_resources(&a.vessel),
            Request::GetOffcutResources(_) => done(json!({"resources": self.offcut.to_canonical_text()})),
            Request::StartVessel(a) => self.start(&a.vessel, &a.args),
            Request::StartVesselEx(a) => self.start_ex(&a.vessel, &a.platform, &a.args),
            Request::StopVessel(a) => self.stop(&a.vessel),
            Request::AddFileToVessel(a) => self.add_file(&a.vessel, &a.filename, &a.data),
            Request::ListFilesInVessel(a) => self.list_files(&a.vessel),
            Request::RetrieveFileFromVessel(a) => self.retrieve_file(&a.vessel, &a.filename),
            Request::DeleteFileInVessel(a) => self.delete_file(&a.vessel, &a.filename),
            Request::ReadVesselLog(a) => self.read_log(&a.vessel),
            Request::ResetVessel(a) => self.reset(&a.vessel),
            Request::ChangeOwner(a) => self.change_owner(&a.vessel, &a.owner_key),
            Request::ChangeUsers(a) => self.change_users(&a.vessel, &a.user_keys),
            Request::ChangeOwnerInformation(a) => self.change_owner_information(&a.vessel, a.info),
            Request::ChangeAdvertise(a) => self.change_advertise(&a.vessel, a.advertise),
            Request::SplitVessel(a) => self.split(&a.vessel, &a.resources),
            Request::JoinVessels(a) => self.join(&a.vessel, &a.vessel2),
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
