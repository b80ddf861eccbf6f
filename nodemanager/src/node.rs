//! The node: its state directory opened and locked, the vessel table, the anti-replay table,
//! the running processes, and the start-up and shutdown of §7. Requests are executed one at a
//! time by [`Node::handle`] (see `calls.rs`) on one long-lived thread.

use std::{
    collections::{HashMap, HashSet},
    fs,
    path::{Path, PathBuf},
    sync::{mpsc::Sender, Arc},
    time::Duration,
};

use repy_policy::Restrictions;
use tracing::{error, info, warn};

use crate::{
    keys::PublicKey,
    replay::{Admitted, Refused, Replay},
    request::{unix_now, Code, NmError, Signer},
    resources,
    state::{self, Config, LastExit, LastStart, Layout, NodeState, StateLock, Status},
    vessel::{Ended, ExitInfo, Launch, Running},
};

pub struct Node {
    pub layout: Layout,
    pub config: Config,
    pub node_key: PublicKey,
    pub repy: PathBuf,
    pub state: NodeState,
    pub replay: Replay,
    pub offcut: Restrictions,
    pub(crate) running: HashMap<String, Running>,
    ended: Arc<dyn Fn(Ended) + Send + Sync>,
    _lock: StateLock,
}

/// Internal failures: logged in full, reported to the client as `Internal`.
pub fn internal(context: &str, e: impl std::fmt::Display) -> NmError {
    error!("internal error: {context}: {e}");
    NmError::new(Code::Internal, format!("internal error while {context} (details in the node manager's log)"))
}

impl Node {
    /// Start-up steps of §7 up to (not including) restarting vessels: lock, empty `tmp/`, load
    /// everything (refusing to start on anything missing or unreadable), delete leftovers.
    /// `ended` is called from watcher threads when a vessel process ends.
    pub fn open(root: &Path, ended: impl Fn(Ended) + Send + Sync + 'static) -> Result<Node, String> {
        let layout = Layout::new(root);
        if !root.is_dir() {
            return Err(format!("state directory '{}' does not exist (create it with 'repy node init')", root.display()));
        }
        let lock = state::lock(&layout)?;
        let tmp = layout.tmp();
        fs::create_dir_all(&tmp).map_err(|e| format!("cannot create '{}': {e}", tmp.display()))?;
        for entry in fs::read_dir(&tmp).map_err(|e| format!("cannot read '{}': {e}", tmp.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            removed.map_err(|e| format!("cannot empty '{}': {e}", path.display()))?;
        }
        let config = state::load_config(&layout)?;
        let key_path = layout.node_key();
        let node_secret = crate::keys::read_secret_key(&key_path)?;
        let state = state::load_state(&layout)?;
        let replay = Replay::new(state::load_seq(&layout)?, unix_now(), config.max_expiry_s);
        let offcut_path = layout.offcut();
        let offcut_text = fs::read_to_string(&offcut_path).map_err(|e| format!("cannot read '{}': {e}", offcut_path.display()))?;
        let offcut = resources::parse_offcut(&offcut_text).map_err(|e| format!("'{}': {e}", offcut_path.display()))?;
        for record in state.vessels.values() {
            let path = layout.restrictions(&record.name);
            let text = fs::read_to_string(&path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
            resources::parse_text(&text).map_err(|e| format!("'{}': {e}", path.display()))?;
            fs::create_dir_all(layout.vessel_dir(&record.name)).map_err(|e| e.to_string())?;
        }
        let repy = if config.repy.is_empty() {
            std::env::current_exe().map_err(|e| format!("cannot find the running executable: {e}"))?
        } else {
            PathBuf::from(&config.repy)
        };
        let node = Node {
            layout,
            config,
            node_key: node_secret.public(),
            repy,
            state,
            replay,
            offcut,
            running: HashMap::new(),
            ended: Arc::new(ended),
            _lock: lock,
        };
        node.remove_leftovers();
        Ok(node)
    }

    /// Deletes vessel directories, restrictions files and logs that belong to no vessel.
    pub fn remove_leftovers(&self) {
        let known = |name: &str| self.state.vessels.contains_key(name);
        let scan = |dir: PathBuf, owner: &dyn Fn(&str) -> Option<String>| {
            let Ok(entries) = fs::read_dir(&dir) else { return };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(vessel) = owner(&name) else { continue };
                if known(&vessel) {
                    continue;
                }
                let path = entry.path();
                let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
                match removed {
                    Ok(()) => info!("removed leftover '{}'", path.display()),
                    Err(e) => warn!("cannot remove leftover '{}': {e}", path.display()),
                }
            }
        };
        scan(self.layout.vessels_dir(), &|n| Some(n.to_string()));
        scan(self.layout.resources_dir(), &|n| n.strip_suffix(".restrictions").map(str::to_string));
        scan(self.layout.logs_dir(), &|n| {
            let vessel = repy_contract::log::base_of(n).and_then(|base| base.strip_suffix(".log"));
            vessel.or_else(|| n.strip_suffix(state::REPORT_SUFFIX)).map(str::to_string)
        });
    }

    /// Restarts every vessel recorded as `Started` (a vessel that cannot be started becomes
    /// `Stale`) and commits. Must run on the thread that executes requests.
    pub fn resume_started(&mut self) -> Result<(), String> {
        let started: Vec<String> = self.state.sorted().iter().filter(|r| r.status == Status::Started).map(|r| r.name.clone()).collect();
        for name in started {
            let last = self.state.vessels[&name].last_start.clone();
            let outcome = match &last {
                Some(last) => {
                    self.append_log(
                        &name,
                        &format!("[node manager] restarting {} {} after a node manager restart\n", last.program, last.args.join(" ")),
                    );
                    self.spawn(&name, &last.program, &last.args).map_err(|e| e.to_string())
                }
                None => Err("no program was recorded".to_string()),
            };
            let record = self.state.vessels.get_mut(&name).expect("listed above");
            match outcome {
                Ok(pid) => {
                    record.pid = Some(pid);
                    info!("restarted vessel {name} (pid {pid})");
                }
                Err(e) => {
                    record.status = Status::Stale;
                    record.pid = None;
                    warn!("vessel {name} could not be restarted and is now Stale: {e}");
                }
            }
        }
        self.commit().map_err(|e| format!("cannot write '{}': {}", self.layout.state().display(), e.message))
    }

    /// Appends a line to a vessel's log (`.new` file).
    pub fn append_log(&self, vessel: &str, line: &str) {
        use std::io::Write;
        let [_, new] = self.layout.log_files(vessel);
        let result = fs::OpenOptions::new().create(true).append(true).open(&new).and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = result {
            warn!("cannot append to '{}': {e}", new.display());
        }
    }

    /// Spawns a vessel's program; returns its pid.
    pub fn spawn(&mut self, vessel: &str, program: &str, args: &[String]) -> std::io::Result<u32> {
        let launch = Launch { repy: self.repy.clone(), layout: &self.layout, network: &self.config.network, vessel, program, args };
        let notify = self.ended.clone();
        let running = launch.spawn(move |e| notify(e))?;
        let pid = running.pid;
        self.running.insert(vessel.to_string(), running);
        Ok(pid)
    }

    /// Writes `state.json`.
    pub fn commit(&self) -> Result<(), NmError> {
        let data = serde_json::to_vec_pretty(&self.state).map_err(|e| internal("encoding the vessel table", e))?;
        state::write_atomic(&self.layout.tmp(), &self.layout.state(), &data).map_err(|e| internal("writing state.json", e))
    }

    /// Whether `key` is the owner or a user of some vessel.
    pub fn has_role(&self, key: &PublicKey) -> bool {
        self.state.vessels.values().any(|r| r.is_user(key))
    }

    /// Step 6 of §3.3 in memory: accepts the sequence number and says whether it must be made
    /// durable ([`persist_seq`](Self::persist_seq)) before the request acts: only a key that
    /// has (or had) a role is written (see [`crate::replay`] for why the others need not be).
    pub fn admit_seq(&mut self, signer: &Signer, has_role: bool) -> Result<Admitted, NmError> {
        let now = unix_now();
        self.replay.accept(signer.key.as_str(), signer.seq, signer.expires, has_role, now).map_err(|refused| match refused {
            Refused::Replay(last) => NmError {
                code: Code::Replay,
                message: format!(
                    "sequence number {} of key {} was already used or is too old (highest accepted: {last})",
                    signer.seq,
                    signer.key.fingerprint()
                ),
                last_seq: Some(last),
            },
            Refused::TooFarAhead { limit } => NmError::new(
                Code::Expired,
                format!(
                    "sequence number {} of key {} is too far ahead of the node's clock: a key without a role here may use at most \
                     {limit} (Unix time in microseconds plus {} s)",
                    signer.seq,
                    signer.key.fingerprint(),
                    self.config.max_expiry_s
                ),
            ),
        })
    }

    /// Writes the durable sequence numbers (`seq.json`): one write for every request admitted
    /// since the last one that needed it. Its size depends on the keys with a role, never on
    /// how many other keys have signed requests. `signers` are kept even if they hold no role.
    pub fn persist_seq(&mut self, signers: &[&str]) -> Result<(), NmError> {
        let keep: HashSet<&str> = self
            .state
            .vessels
            .values()
            .flat_map(|r| std::iter::once(r.owner_key.as_str()).chain(r.user_keys.iter().map(PublicKey::as_str)))
            .chain(signers.iter().copied())
            .collect();
        let mut seq = self.replay.durable.clone();
        seq.prune(&keep, unix_now());
        let data = serde_json::to_vec(&seq).map_err(|e| internal("encoding seq.json", e))?;
        state::write_atomic(&self.layout.tmp(), &self.layout.seq(), &data).map_err(|e| internal("writing seq.json", e))?;
        self.replay.durable = seq;
        Ok(())
    }

    /// A watcher reported that a process ended: record its exit unless it was stopped by us.
    pub fn on_ended(&mut self, ended: Ended) {
        let Some(running) = self.running.get(&ended.vessel) else { return };
        if running.pid != ended.pid {
            return;
        }
        let Some(info) = running.try_exit() else { return };
        self.running.remove(&ended.vessel);
        let status = info.status(false);
        self.record_exit(&ended.vessel, &info, status);
        info!(
            "vessel {} ended: {} (exit code {:?}, signal {:?}): {}",
            ended.vessel,
            status.as_str(),
            info.code,
            info.signal,
            info.reason()
        );
        if let Err(e) = self.commit() {
            error!("cannot record the end of vessel {}: {}", ended.vessel, e.message);
        }
    }

    /// Sets the status and `last_exit` of a vessel whose process ended.
    pub fn record_exit(&mut self, vessel: &str, info: &ExitInfo, status: Status) {
        if let Some(record) = self.state.vessels.get_mut(vessel) {
            record.status = status;
            record.pid = None;
            record.last_exit = Some(LastExit { code: info.code, signal: info.signal, time: unix_now(), reason: info.reason() });
        }
    }

    /// Stops a running vessel (§2.3) and returns the status to record.
    pub fn stop_process(&mut self, vessel: &str) -> Option<(ExitInfo, Status)> {
        let running = self.running.remove(vessel)?;
        let (info, by_itself) = running.stop(Duration::from_secs(self.config.stop_grace_s));
        Some((info.clone(), info.status(!by_itself)))
    }

    /// Shutdown (§7): stop every running vessel but keep it recorded as `Started`.
    pub fn shutdown(&mut self) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            if let Some(running) = self.running.remove(&name) {
                let (info, by_itself) = running.stop(Duration::from_secs(self.config.stop_grace_s));
                if by_itself {
                    let status = info.status(false);
                    self.record_exit(&name, &info, status);
                } else if let Some(record) = self.state.vessels.get_mut(&name) {
                    record.pid = None;
                }
                info!("stopped vessel {name} for shutdown");
            }
        }
        if let Err(e) = self.commit() {
            error!("cannot commit the vessel table at shutdown: {}", e.message);
        }
    }

    /// Records a start.
    pub fn record_start(&mut self, vessel: &str, program: &str, args: &[String], pid: u32) {
        if let Some(record) = self.state.vessels.get_mut(vessel) {
            record.status = Status::Started;
            record.pid = Some(pid);
            record.last_start = Some(LastStart { program: program.to_string(), args: args.to_vec(), time: unix_now() });
        }
    }
}

/// A sender usable as the `ended` callback.
pub fn channel_notify<M: Send + 'static>(tx: Sender<M>, wrap: fn(Ended) -> M) -> impl Fn(Ended) + Send + Sync + 'static {
    move |e| {
        let _ = tx.send(wrap(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        init::{init, InitOptions},
        keys::write_key_pair,
        request::{Checked, Signer},
    };
    use serde_json::json;

    fn new_state(dir: &Path) -> (PathBuf, crate::keys::SecretKey) {
        write_key_pair(dir, "owner").unwrap();
        let state = dir.join("state");
        init(&InitOptions {
            dir: state.clone(),
            owner: dir.join("owner.publickey"),
            listen: None,
            vessels: 2,
            cpu: Some("0.5".into()),
            memory: Some(1_000_000_000),
            disk: Some(100_000_000),
            ports: None,
            bootstrap: Vec::new(),
            discovery_listen: None,
        })
        .unwrap();
        (state, crate::keys::read_secret_key(&dir.join("owner.privatekey")).unwrap())
    }

    fn signed(key: &crate::keys::SecretKey, seq: u64, call: &str, args: serde_json::Value) -> Checked {
        Checked {
            call: call.into(),
            args: args.as_object().unwrap().clone(),
            signer: Some(Signer { key: key.public(), seq, expires: unix_now() + 60 }),
        }
    }

    #[test]
    fn start_up_removes_leftovers_and_refuses_missing_state() {
        let dir = tempfile::tempdir().unwrap();
        let (state, _) = new_state(dir.path());
        let layout = Layout::new(&state);
        fs::create_dir(layout.vessel_dir("v9")).unwrap();
        fs::write(layout.restrictions("v9"), "resource cpu 1\n").unwrap();
        fs::write(layout.logs_dir().join("v9.log.new"), "old").unwrap();
        fs::write(layout.logs_dir().join("v1.log.new"), "kept").unwrap();
        fs::write(layout.tmp().join("half-written"), "x").unwrap();
        let node = Node::open(&state, |_| {}).unwrap();
        assert!(!layout.vessel_dir("v9").exists());
        assert!(!layout.restrictions("v9").exists());
        assert!(!layout.logs_dir().join("v9.log.new").exists());
        assert!(layout.logs_dir().join("v1.log.new").exists());
        assert_eq!(fs::read_dir(layout.tmp()).unwrap().count(), 0);
        assert!(Node::open(&state, |_| {}).err().unwrap().contains("in use"), "the lock is held");
        drop(node);
        fs::remove_file(layout.seq()).unwrap();
        let e = Node::open(&state, |_| {}).err().unwrap();
        assert!(e.contains("seq.json"), "{e}");
    }

    #[test]
    fn sequence_numbers_are_durable_before_the_call_runs_and_split_commits_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let (state, owner) = new_state(dir.path());
        let mut node = Node::open(&state, |_| {}).unwrap();
        // An unknown call still consumes its sequence number, on disk.
        let e = node.handle(signed(&owner, 100, "Nothing", json!({}))).unwrap_err();
        assert_eq!(e.code, Code::UnknownCall);
        assert!(state::load_seq(&node.layout).unwrap().keys[owner.public().as_str()].last_seq == 100);
        assert_eq!(node.handle(signed(&owner, 100, "GetVessels", json!({}))).unwrap_err().code, Code::Replay);

        let proposed = "resource cpu 0.1\nresource memory 1000000\nresource diskused 1000000\nresource events 1\n";
        let (result, _) = node.handle(signed(&owner, 101, "SplitVessel", json!({"vessel": "v1", "resources": proposed}))).unwrap();
        assert_eq!(result["vessels"], json!(["v3", "v4"]));
        let on_disk = state::load_state(&node.layout).unwrap();
        assert_eq!(on_disk.next_vessel, 5);
        assert_eq!(on_disk.vessels.keys().collect::<Vec<_>>(), ["v2", "v3", "v4"]);
        assert!(!node.layout.restrictions("v1").exists() && node.layout.restrictions("v4").exists());
        // A failed split changes nothing, on disk or in memory.
        let before = node.state.clone();
        let e = node
            .handle(signed(&owner, 102, "SplitVessel", json!({"vessel": "v4", "resources": proposed.replace("0.1", "0.2")})))
            .unwrap_err();
        assert_eq!(e.code, Code::ResourceMath);
        assert_eq!(node.state, before);
        assert_eq!(state::load_state(&node.layout).unwrap(), before);
        // Reopening finds the same table.
        drop(node);
        let node = Node::open(&state, |_| {}).unwrap();
        assert_eq!(node.state, before);
    }

    #[test]
    fn keys_without_a_role_are_never_written_and_cannot_replay_once_given_one() {
        let dir = tempfile::tempdir().unwrap();
        let (state, owner) = new_state(dir.path());
        let mut node = Node::open(&state, |_| {}).unwrap();
        node.handle(signed(&owner, 10, "GetVessels", json!({}))).unwrap();
        let seq_file = node.layout.seq();
        let written = fs::metadata(&seq_file).unwrap();
        let throwaway: Vec<crate::keys::SecretKey> = (0..200).map(|_| crate::keys::SecretKey::generate()).collect();
        for key in &throwaway {
            node.handle(signed(key, 5, "GetVesselResources", json!({"vessel": "v1"}))).unwrap();
        }
        // A refused call consumes its number too, in memory.
        let refused = signed(&throwaway[0], 6, "AddFileToVessel", json!({"vessel": "v1", "filename": "planted.py", "data": "eA=="}));
        assert_eq!(node.handle(refused).unwrap_err().code, Code::Forbidden);
        let now = fs::metadata(&seq_file).unwrap();
        let stamp = |m: &fs::Metadata| (m.len(), m.modified().unwrap());
        assert_eq!(stamp(&now), stamp(&written), "seq.json was rewritten");
        for (i, key) in throwaway.iter().enumerate().take(20) {
            assert_eq!(node.handle(signed(key, 5, "GetVesselResources", json!({"vessel": "v1"}))).unwrap_err().code, Code::Replay, "{i}");
        }
        // A number far ahead of the clock is refused to a key without a role, naming it.
        let ahead = signed(&throwaway[1], u64::MAX >> 11, "GetVessels", json!({}));
        let e = node.handle(ahead).unwrap_err();
        assert!(e.code == Code::Expired && e.message.contains(throwaway[1].public().fingerprint()), "{e}");

        // After a restart the node has forgotten them; the owner gives throwaway[0] a role.
        drop(node);
        let mut node = Node::open(&state, |_| {}).unwrap();
        let grant = json!({"vessel": "v1", "user_keys": [throwaway[0].public().as_str()]});
        node.handle(signed(&owner, 11, "ChangeUsers", grant)).unwrap();
        // Its refused request, replayed now, is still refused and plants nothing.
        let replayed = signed(&throwaway[0], 6, "AddFileToVessel", json!({"vessel": "v1", "filename": "planted.py", "data": "eA=="}));
        let e = node.handle(replayed).unwrap_err();
        assert_eq!(e.code, Code::Replay, "{e}");
        assert!(!node.layout.vessel_dir("v1").join("planted.py").exists());
        // Above the floor it names, the key works, and from now on it is durable.
        let next = e.last_seq.unwrap() + 1;
        let upload = signed(&throwaway[0], next, "AddFileToVessel", json!({"vessel": "v1", "filename": "mine.py", "data": "eA=="}));
        node.handle(upload).unwrap();
        let on_disk = state::load_seq(&node.layout).unwrap();
        assert_eq!(on_disk.keys.len(), 2, "the owner and the new user only");
        assert_eq!(on_disk.keys[throwaway[0].public().as_str()].last_seq, next);
        // The owner's numbers survived the restart.
        assert_eq!(node.handle(signed(&owner, 10, "GetVessels", json!({}))).unwrap_err().code, Code::Replay);
    }
}
