//! The requests of nodemanager.md §4: argument schemas, roles (§3.3 steps 7–8) and execution.

use std::fs;

use base64::{engine::general_purpose::STANDARD, Engine};
use repy_contract::{args, disk, file_name, log};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Map, Value};

use crate::{
    keys::PublicKey,
    node::{internal, Node},
    request::{err, Checked, Code, NmError},
    resources,
    state::{self, Status, VesselRecord},
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VesselArg {
    vessel: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartArgs {
    vessel: String,
    args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartExArgs {
    vessel: String,
    platform: String,
    args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddFileArgs {
    vessel: String,
    filename: String,
    data: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileArgs {
    vessel: String,
    filename: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerArgs {
    vessel: String,
    owner_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersArgs {
    vessel: String,
    user_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoArgs {
    vessel: String,
    info: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvertiseArgs {
    vessel: String,
    advertise: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitArgs {
    vessel: String,
    resources: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinArgs {
    vessel: String,
    vessel2: String,
}

/// A request with typed arguments.
enum Call {
    GetVessels,
    GetVesselResources(VesselArg),
    GetOffcutResources,
    StartVessel(StartArgs),
    StartVesselEx(StartExArgs),
    StopVessel(VesselArg),
    AddFile(AddFileArgs),
    ListFiles(VesselArg),
    RetrieveFile(FileArgs),
    DeleteFile(FileArgs),
    ReadLog(VesselArg),
    Reset(VesselArg),
    ChangeOwner(OwnerArgs),
    ChangeUsers(UsersArgs),
    ChangeOwnerInformation(InfoArgs),
    ChangeAdvertise(AdvertiseArgs),
    Split(SplitArgs),
    Join(JoinArgs),
}

fn typed<T: DeserializeOwned>(call: &str, args: Map<String, Value>) -> Result<T, NmError> {
    serde_json::from_value(Value::Object(args)).map_err(|e| NmError::new(Code::BadArguments, format!("arguments of {call}: {e}")))
}

fn parse_call(call: &str, args: Map<String, Value>) -> Result<Call, NmError> {
    Ok(match call {
        "GetVessels" => typed::<NoArgs>(call, args).map(|_| Call::GetVessels)?,
        "GetVesselResources" => Call::GetVesselResources(typed(call, args)?),
        "GetOffcutResources" => typed::<NoArgs>(call, args).map(|_| Call::GetOffcutResources)?,
        "StartVessel" => Call::StartVessel(typed(call, args)?),
        "StartVesselEx" => Call::StartVesselEx(typed(call, args)?),
        "StopVessel" => Call::StopVessel(typed(call, args)?),
        "AddFileToVessel" => Call::AddFile(typed(call, args)?),
        "ListFilesInVessel" => Call::ListFiles(typed(call, args)?),
        "RetrieveFileFromVessel" => Call::RetrieveFile(typed(call, args)?),
        "DeleteFileInVessel" => Call::DeleteFile(typed(call, args)?),
        "ReadVesselLog" => Call::ReadLog(typed(call, args)?),
        "ResetVessel" => Call::Reset(typed(call, args)?),
        "ChangeOwner" => Call::ChangeOwner(typed(call, args)?),
        "ChangeUsers" => Call::ChangeUsers(typed(call, args)?),
        "ChangeOwnerInformation" => Call::ChangeOwnerInformation(typed(call, args)?),
        "ChangeAdvertise" => Call::ChangeAdvertise(typed(call, args)?),
        "SplitVessel" => Call::Split(typed(call, args)?),
        "JoinVessels" => Call::Join(typed(call, args)?),
        other => return err(Code::UnknownCall, format!("unknown call '{other}'")),
    })
}

impl Call {
    /// The vessels named by the request (checked in step 8).
    fn vessels(&self) -> Vec<&str> {
        match self {
            Call::GetVessels | Call::GetOffcutResources => vec![],
            Call::GetVesselResources(a) | Call::StopVessel(a) | Call::ListFiles(a) | Call::ReadLog(a) | Call::Reset(a) => {
                vec![&a.vessel]
            }
            Call::StartVessel(a) => vec![&a.vessel],
            Call::StartVesselEx(a) => vec![&a.vessel],
            Call::AddFile(a) => vec![&a.vessel],
            Call::RetrieveFile(a) | Call::DeleteFile(a) => vec![&a.vessel],
            Call::ChangeOwner(a) => vec![&a.vessel],
            Call::ChangeUsers(a) => vec![&a.vessel],
            Call::ChangeOwnerInformation(a) => vec![&a.vessel],
            Call::ChangeAdvertise(a) => vec![&a.vessel],
            Call::Split(a) => vec![&a.vessel],
            Call::Join(a) => vec![&a.vessel, &a.vessel2],
        }
    }
}

/// A successful result and an optional warning.
pub type Outcome = (Value, Option<String>);

fn check_filename(name: &str) -> Result<(), NmError> {
    file_name::user_problem(name).map_or(Ok(()), |problem| err(Code::BadFilename, problem))
}

fn check_start_args(args: &[String]) -> Result<(), NmError> {
    args::problem(args).map_or(Ok(()), |problem| err(Code::BadArguments, problem))
}

fn parse_key(text: &str) -> Result<PublicKey, NmError> {
    PublicKey::parse(text).map_err(|e| NmError::new(Code::BadKey, e))
}

/// Reads the last `limit` bytes of the concatenation of `files`.
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

    fn execute(&mut self, call: Call) -> Result<Outcome, NmError> {
        let done = |v: Value| Ok((v, None));
        match call {
            Call::GetVessels => done(self.get_vessels()),
            Call::GetVesselResources(a) => {
                let path = self.layout.restrictions(&a.vessel);
                let text = fs::read_to_string(&path).map_err(|e| internal("reading a restrictions file", e))?;
                done(json!({"resources": text}))
            }
            Call::GetOffcutResources => done(json!({"resources": self.offcut.to_canonical_text()})),
            Call::StartVessel(a) => self.start(&a.vessel, &a.args),
            Call::StartVesselEx(a) => {
                if !a.platform.eq_ignore_ascii_case("repyv1") {
                    return err(Code::UnsupportedPlatform, format!("platform '{}' is not supported (only repyv1)", a.platform));
                }
                self.start(&a.vessel, &a.args)
            }
            Call::StopVessel(a) => self.stop(&a.vessel),
            Call::AddFile(a) => self.add_file(&a.vessel, &a.filename, &a.data),
            Call::ListFiles(a) => {
                let dir = self.layout.vessel_dir(&a.vessel);
                let mut files = Vec::new();
                for entry in fs::read_dir(&dir).map_err(|e| internal("listing a vessel", e))?.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if file_name::user_problem(&name).is_none() && entry.metadata().is_ok_and(|m| m.is_file()) {
                        files.push(name);
                    }
                }
                files.sort();
                done(json!({"files": files}))
            }
            Call::RetrieveFile(a) => {
                check_filename(&a.filename)?;
                let path = self.layout.vessel_dir(&a.vessel).join(&a.filename);
                let meta = match fs::metadata(&path) {
                    Ok(m) if m.is_file() => m,
                    _ => return err(Code::NoSuchFile, format!("vessel {} has no file '{}'", a.vessel, a.filename)),
                };
                if meta.len() > self.config.max_file_bytes as u64 {
                    return err(
                        Code::FileTooLarge,
                        format!(
                            "file '{}' has {} bytes, over the transfer limit of {}",
                            a.filename,
                            meta.len(),
                            self.config.max_file_bytes
                        ),
                    );
                }
                let data = fs::read(&path).map_err(|e| internal("reading a vessel file", e))?;
                done(json!({"data": STANDARD.encode(data)}))
            }
            Call::DeleteFile(a) => {
                check_filename(&a.filename)?;
                let path = self.layout.vessel_dir(&a.vessel).join(&a.filename);
                if !fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                    return err(Code::NoSuchFile, format!("vessel {} has no file '{}'", a.vessel, a.filename));
                }
                fs::remove_file(&path).map_err(|e| internal("deleting a vessel file", e))?;
                let _ = state::sync_dir(&self.layout.vessel_dir(&a.vessel));
                done(json!({}))
            }
            Call::ReadLog(a) => {
                let data = log::read_log(&self.layout.log_base(&a.vessel)).map_err(|e| internal("reading a log", e))?;
                done(json!({"log": String::from_utf8_lossy(&data)}))
            }
            Call::Reset(a) => self.reset(&a.vessel),
            Call::ChangeOwner(a) => {
                let key = parse_key(&a.owner_key)?;
                let record = self.record_mut(&a.vessel);
                record.owner_key = key;
                record.owner_info.clear();
                record.advertise = true;
                self.commit()?;
                done(json!({}))
            }
            Call::ChangeUsers(a) => {
                let mut keys: Vec<PublicKey> = Vec::new();
                for text in &a.user_keys {
                    let key = parse_key(text)?;
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                if keys.len() > self.config.max_user_keys {
                    return err(
                        Code::LimitExceeded,
                        format!("{} user keys for vessel {}, at most {} allowed", keys.len(), a.vessel, self.config.max_user_keys),
                    );
                }
                let duplicates = a.user_keys.len() - keys.len();
                self.record_mut(&a.vessel).user_keys = keys;
                self.commit()?;
                let warning = (duplicates > 0).then(|| format!("{duplicates} duplicate user key(s) ignored"));
                Ok((json!({}), warning))
            }
            Call::ChangeOwnerInformation(a) => {
                let chars = a.info.chars().count();
                if chars > self.config.max_owner_info {
                    return err(
                        Code::LimitExceeded,
                        format!("owner information of {chars} characters, at most {} allowed", self.config.max_owner_info),
                    );
                }
                if a.info.contains(['\n', '\r']) {
                    return err(Code::BadArguments, "owner information may not contain a newline");
                }
                self.record_mut(&a.vessel).owner_info = a.info;
                self.commit()?;
                done(json!({}))
            }
            Call::ChangeAdvertise(a) => {
                self.record_mut(&a.vessel).advertise = a.advertise;
                self.commit()?;
                done(json!({}))
            }
            Call::Split(a) => self.split(&a.vessel, &a.resources),
            Call::Join(a) => self.join(&a.vessel, &a.vessel2),
        }
    }

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

    fn not_started(&self, vessel: &str, what: &str) -> Result<(), NmError> {
        let status = self.record(vessel).status;
        if status == Status::Started {
            return err(Code::InvalidState, format!("vessel {vessel} is Started; stop it before {what}"));
        }
        Ok(())
    }

    fn start(&mut self, vessel: &str, args: &[String]) -> Result<Outcome, NmError> {
        self.not_started(vessel, "starting it again")?;
        check_start_args(args)?;
        let program = &args[0];
        check_filename(program)?;
        if !self.layout.vessel_dir(vessel).join(program).is_file() {
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

    fn stop(&mut self, vessel: &str) -> Result<Outcome, NmError> {
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

    fn add_file(&mut self, vessel: &str, filename: &str, data: &str) -> Result<Outcome, NmError> {
        check_filename(filename)?;
        let limit = self.config.max_file_bytes;
        if data.len() > 4 * limit.div_ceil(3) + 4 {
            return err(Code::FileTooLarge, format!("file '{filename}' is over the transfer limit of {limit} bytes"));
        }
        let bytes = STANDARD
            .decode(data)
            .map_err(|e| NmError::new(Code::BadArguments, format!("'data' of file '{filename}' is not valid base64: {e}")))?;
        if bytes.len() > limit {
            return err(
                Code::FileTooLarge,
                format!("file '{filename}' has {} bytes, over the transfer limit of {limit} bytes", bytes.len()),
            );
        }
        let dir = self.layout.vessel_dir(vessel);
        let used = disk::vessel_disk_usage_except(&dir, Some(filename)).map_err(|e| internal("measuring disk use", e))?;
        let text = fs::read_to_string(self.layout.restrictions(vessel)).map_err(|e| internal("reading restrictions", e))?;
        let restrictions = resources::parse_text(&text).map_err(|e| internal("parsing restrictions", e))?;
        let quota = restrictions.value(repy_policy::Resource::Diskused).whole_units();
        let after = used + bytes.len() as u64 + disk::PER_FILE_OVERHEAD;
        if after > quota {
            return err(
                Code::DiskQuota,
                format!(
                    "file '{filename}' ({} bytes) would bring vessel {vessel} to {after} bytes, over its diskused of {quota}",
                    bytes.len()
                ),
            );
        }
        state::write_atomic(&self.layout.tmp(), &dir.join(filename), &bytes).map_err(|e| internal("writing a vessel file", e))?;
        Ok((json!({}), None))
    }

    fn reset(&mut self, vessel: &str) -> Result<Outcome, NmError> {
        if self.record(vessel).status == Status::Started {
            self.stop_process(vessel);
        }
        for path in self.layout.log_files(vessel) {
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

    fn read_restrictions(&self, vessel: &str) -> Result<repy_policy::Restrictions, NmError> {
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
        for path in self.layout.log_files(vessel) {
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

    fn split(&mut self, vessel: &str, proposed: &str) -> Result<Outcome, NmError> {
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

    fn join(&mut self, vessel: &str, vessel2: &str) -> Result<Outcome, NmError> {
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
