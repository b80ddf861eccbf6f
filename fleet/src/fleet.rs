//! The `repy fleet` commands over the node manager's signing client. Every command first asks
//! each node (in parallel) which vessels the key may use (GetVessels, GetVesselResources), then
//! acts on those vessels, one connection per node. A node that fails is reported and skipped.

use std::{
    collections::HashMap,
    net::ToSocketAddrs,
    path::{Component, Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD, Engine};
use repy_contract::file_name;
use repy_nodemanager::{
    client::{Client, ClientError},
    keys::{PublicKey, SecretKey},
    protocol::{
        vessel_name_problem, AddFileToVessel, GetVesselResources, GetVessels, ListFilesInVessel, ReadVesselLog, Request, ResetVessel,
        RetrieveFileFromVessel, StartVessel, StopVessel,
    },
};
use serde_json::{json, Map, Value};

use crate::{
    args::{self, Slot},
    exec::Executor,
    identity::Identity,
};

/// The most arguments StartVessel accepts, the program included: the node's own limit.
pub use repy_nodemanager::protocol::MAX_START_ARGS;

pub enum Command {
    Browse,
    Upload {
        files: Vec<(String, Vec<u8>)>,
    },
    Start {
        program: String,
        args: Vec<String>,
    },
    Stop,
    Log,
    List,
    Download {
        file: String,
        to: PathBuf,
    },
    Reset,
    /// `files` holds the program first, then its libraries.
    Run {
        program: String,
        files: Vec<(String, Vec<u8>)>,
        args: Vec<String>,
        timeout: Duration,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Browse => "browse",
            Command::Upload { .. } => "upload",
            Command::Start { .. } => "start",
            Command::Stop => "stop",
            Command::Log => "log",
            Command::List => "list",
            Command::Download { .. } => "download",
            Command::Reset => "reset",
            Command::Run { .. } => "run",
        }
    }

    /// `upload FILE...`: reads the files now; each is stored under its base name. A program
    /// (`.py`) brings the libraries it imports, found as `repy run` finds them (beside it, in
    /// `lib_dirs`, built in), unless a file of that name is uploaded too.
    pub fn upload(paths: &[PathBuf], lib_dirs: &[PathBuf]) -> Result<Command, String> {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for path in paths {
            let name = vessel_file_name(path)?;
            if files.iter().any(|(n, _)| *n == name) {
                return Err(format!("'{}': two files to upload are named '{name}'", path.display()));
            }
            let data = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
            files.push((name, data));
        }
        let mut libraries = Vec::new();
        for (path, (_, data)) in paths.iter().zip(&files) {
            if path.extension().is_some_and(|e| e == "py") {
                libraries.extend(libraries_of(path, data, lib_dirs)?);
            }
        }
        for (name, data) in libraries {
            if !files.iter().any(|(n, _)| *n == name) {
                files.push((name, data));
            }
        }
        Ok(Command::Upload { files })
    }

    /// `start PROGRAM ARGS...`: PROGRAM is the name of an uploaded file (a path is reduced to its name).
    pub fn start(program: &Path, args: Vec<String>) -> Result<Command, String> {
        Ok(Command::Start { program: vessel_file_name(program)?, args })
    }

    /// `run PROGRAM ARGS...`: reads PROGRAM and its libraries now.
    pub fn run(program: &Path, args: Vec<String>, timeout: Duration, lib_dirs: &[PathBuf]) -> Result<Command, String> {
        let name = vessel_file_name(program)?;
        let data = std::fs::read(program).map_err(|e| format!("cannot read '{}': {e}", program.display()))?;
        let mut files = libraries_of(program, &data, lib_dirs)?;
        files.retain(|(n, _)| *n != name);
        files.insert(0, (name.clone(), data));
        Ok(Command::Run { program: name, files, args, timeout })
    }

    pub fn download(file: &str, to: PathBuf) -> Result<Command, String> {
        check_vessel_name(file)?;
        Ok(Command::Download { file: file.to_string(), to })
    }
}

/// The libraries the program at `path` imports, as vessel files; the check's refusals name
/// the file, line and column.
fn libraries_of(path: &Path, data: &[u8], lib_dirs: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let shown = path.display().to_string();
    let checked =
        repy_interpreter::check::check_program(data).map_err(|v| repy_interpreter::check::format_violations(&shown, &v).join("\n"))?;
    let search = repy_libraries::SearchPath::for_program(path, lib_dirs);
    let libraries = repy_libraries::resolve(&shown, &checked, &search).map_err(|lines| lines.join("\n"))?;
    Ok(libraries.into_iter().map(|l| (l.file_name(), l.source.into_bytes())).collect())
}

fn check_vessel_name(name: &str) -> Result<(), String> {
    file_name::user_problem(name).map_or(Ok(()), Err)
}

/// The name a local file gets in a vessel: its base name, which must be a valid Repy file name.
pub fn vessel_file_name(path: &Path) -> Result<String, String> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("'{}' has no usable file name", path.display()))?;
    check_vessel_name(name).map_err(|e| format!("'{}': {e}", path.display()))?;
    Ok(name.to_string())
}

/// The result for one vessel, or for a whole node (`vessel` None) that failed before its vessels
/// could be acted on.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub node: String,
    pub vessel: Option<String>,
    pub error: Option<String>,
    pub fields: Map<String, Value>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    fn node_failure(node: &str, error: String) -> Outcome {
        Outcome { node: node.to_string(), vessel: None, error: Some(error), fields: Map::new() }
    }

    fn vessel(node: &str, vessel: &str, result: Result<Map<String, Value>, String>) -> Outcome {
        let (fields, error) = match result {
            Ok(fields) => (fields, None),
            Err(e) => (Map::new(), Some(e)),
        };
        Outcome { node: node.to_string(), vessel: Some(vessel.to_string()), error, fields }
    }

    /// `node/vessel`, or `node` for a node-level outcome.
    pub fn place(&self) -> String {
        match &self.vessel {
            Some(v) => format!("{}/{v}", self.node),
            None => self.node.clone(),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("node".into(), json!(self.node));
        object.insert("vessel".into(), json!(self.vessel));
        object.insert("ok".into(), json!(self.ok()));
        object.insert("error".into(), json!(self.error));
        for (k, v) in &self.fields {
            object.insert(k.clone(), v.clone());
        }
        Value::Object(object)
    }
}

/// A vessel the key may use, as found on its node.
#[derive(Clone)]
struct VesselView {
    name: String,
    status: String,
    role: &'static str,
    resources: String,
    last_exit: Value,
    /// `run`: the log before the start, so that only what the run added is shown.
    log_before: String,
}

/// A node that answered, with an open signed connection.
struct NodeView {
    index: usize,
    addr: String,
    ip: String,
    client: Client,
    vessels: Vec<VesselView>,
}

pub struct Fleet {
    nodes: Vec<String>,
    seed: String,
    public: PublicKey,
    exec: Executor,
    timeout: Duration,
}

fn describe(e: ClientError) -> String {
    match e {
        ClientError::Io(e) => format!("unreachable: {e}"),
        ClientError::Protocol(e) => format!("not a node manager? {e}"),
        ClientError::Remote(e) => e.to_string(),
    }
}

/// For a failure inside a command: connection trouble says so, a refusal is the node's message.
fn describe_call(call: &str, e: ClientError) -> String {
    match e {
        ClientError::Io(e) => format!("{call}: node stopped answering: {e}"),
        ClientError::Protocol(e) => format!("{call}: bad response: {e}"),
        ClientError::Remote(e) => format!("{call} refused: {e}"),
    }
}

fn resolve_ip(addr: &str) -> Result<String, String> {
    let mut addrs = addr.to_socket_addrs().map_err(|e| format!("unreachable: cannot resolve '{addr}': {e}"))?;
    addrs.next().map(|a| a.ip().to_string()).ok_or_else(|| format!("unreachable: '{addr}' resolves to no address"))
}

fn discover(index: usize, addr: String, seed: &str, me: &PublicKey, timeout: Duration) -> Result<NodeView, String> {
    let ip = resolve_ip(&addr)?;
    let secret = SecretKey::parse(seed)?;
    let mut client = Client::connect_timeout(&addr, timeout).map_err(describe)?.with_key(secret);
    client.set_timeout(timeout);
    let asked = Instant::now();
    let all = client.send_unsigned(&GetVessels {}.into()).map_err(|e| match e {
        ClientError::Io(e) if asked.elapsed() >= timeout => {
            format!("unreachable: no answer from {addr} within {} s ({e})", timeout.as_secs_f64())
        }
        other => describe(other),
    })?;
    let list = all["vessels"].as_array().ok_or("not a node manager? GetVessels returned no vessel list")?;
    let mut vessels = Vec::new();
    for v in list {
        let role = if v["owner_key"] == me.as_str() {
            "owner"
        } else if v["user_keys"].as_array().is_some_and(|keys| keys.iter().any(|k| k == me.as_str())) {
            "user"
        } else {
            continue;
        };
        // The name becomes part of paths (download) and of every later request: a node that
        // sends anything but a vessel name is not acted on at all.
        let name = v["name"].as_str().unwrap_or("").to_string();
        if let Some(problem) = vessel_name_problem(&name) {
            return Err(format!("refused: the node lists a vessel of this key under a bad name: {problem}"));
        }
        let resources = client
            .send_unsigned(&GetVesselResources { vessel: name.clone() }.into())
            .map_err(|e| describe_call(&format!("GetVesselResources {name}"), e))?;
        vessels.push(VesselView {
            status: v["status"].as_str().unwrap_or("").to_string(),
            role,
            resources: resources["resources"].as_str().unwrap_or("").to_string(),
            last_exit: v["last_exit"].clone(),
            log_before: String::new(),
            name,
        });
    }
    if vessels.is_empty() {
        return Err(format!(
            "the key {} may use no vessel on this node (it is neither owner nor user of any of its {} vessels)",
            me.fingerprint(),
            list.len()
        ));
    }
    Ok(NodeView { index, addr, ip, client, vessels })
}

/// The directory name of a vessel's downloads: the node's address without brackets and with
/// any character but `A-Z a-z 0-9 . -` made `_` (':' and '/' included), then the vessel.
pub fn download_dir_name(node: &str, vessel: &str) -> String {
    let node: String = node
        .chars()
        .filter(|c| !matches!(c, '[' | ']'))
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') { c } else { '_' })
        .collect();
    format!("{node}_{vessel}")
}

/// Where `download` saves `file` of `vessel` on `node`: `TO/NODE_VESSEL/FILE`. The vessel's
/// name comes from the node, so it must be a vessel name, and the file's a file name, before
/// either becomes part of a path: nothing a node says may choose a place outside `to`.
pub fn download_path(to: &Path, node: &str, vessel: &str, file: &str) -> Result<PathBuf, String> {
    if let Some(problem) = vessel_name_problem(vessel) {
        return Err(format!("refused to save under the node's vessel name: {problem}"));
    }
    check_vessel_name(file)?;
    let dir = download_dir_name(node, vessel);
    let one_level = |part: &str| matches!(Path::new(part).components().collect::<Vec<_>>()[..], [Component::Normal(_)]);
    if !one_level(&dir) || !one_level(file) {
        return Err(format!("refused to save '{file}' of vessel {vessel} of {node}: not a plain name below the download directory"));
    }
    Ok(to.join(dir).join(file))
}

type Expanded = Arc<HashMap<(usize, String), Result<Vec<String>, String>>>;

impl Fleet {
    /// `timeout`: to connect to a node, and for each of its answers.
    pub fn new(nodes: Vec<String>, identity: &Identity, exec: Executor, timeout: Duration) -> Fleet {
        Fleet { nodes, seed: identity.secret.seed_text(), public: identity.public.clone(), exec, timeout }
    }

    /// Runs a command on every vessel of every node; outcomes in the nodes file's order.
    pub fn execute(&self, command: Command) -> Vec<Outcome> {
        let mut results: Vec<Vec<Outcome>> = vec![Vec::new(); self.nodes.len()];
        let (seed, me, timeout) = (self.seed.clone(), self.public.clone(), self.timeout);
        let items: Vec<(usize, String)> = self.nodes.iter().cloned().enumerate().collect();
        let found = self.exec.map(items, "contact", move |(i, addr)| {
            let out = discover(i, addr.clone(), &seed, &me, timeout);
            (i, addr, out)
        });
        let mut views = Vec::new();
        for (i, r) in found.into_iter().enumerate() {
            match r {
                Ok((_, _, Ok(view))) => views.push(view),
                Ok((_, addr, Err(e))) => results[i].push(Outcome::node_failure(&addr, e)),
                Err(e) => results[i].push(Outcome::node_failure(&self.nodes[i], e)),
            }
        }
        let expanded = match &command {
            Command::Start { program, args } | Command::Run { program, args, .. } => Arc::new(expand_all(&views, program, args)),
            _ => Arc::new(HashMap::new()),
        };
        let command = Arc::new(command);
        let addrs: Vec<String> = views.iter().map(|v| v.addr.clone()).collect();
        let indices: Vec<usize> = views.iter().map(|v| v.index).collect();
        let (cmd, exp) = (command.clone(), expanded.clone());
        let acted = self.exec.map(views, command.name(), move |mut view| {
            let outcomes = act_on_node(&mut view, &cmd, &exp);
            (view, outcomes)
        });
        let mut started = Vec::new();
        for ((r, addr), index) in acted.into_iter().zip(addrs).zip(indices) {
            match r {
                Ok((view, outcomes)) => {
                    results[index].extend(outcomes);
                    started.push(view);
                }
                Err(e) => results[index].push(Outcome::node_failure(&addr, e)),
            }
        }
        if let Command::Run { timeout, .. } = &*command {
            // Only vessels whose start succeeded are waited for; the others already have their error.
            for view in &mut started {
                let ok: Vec<String> = results[view.index].iter().filter(|o| o.ok()).filter_map(|o| o.vessel.clone()).collect();
                view.vessels.retain(|v| ok.contains(&v.name));
                results[view.index].retain(|o| !o.ok());
            }
            for (index, outcomes) in self.wait_and_collect(started, *timeout) {
                results[index].extend(outcomes);
            }
            for r in &mut results {
                r.sort_by_key(|o| o.vessel.as_deref().map(repy_vessel_number));
            }
        }
        results.into_iter().flatten().collect()
    }

    /// `run`, after the starts: polls every node until none of its vessels is `Started` or the
    /// deadline passes, stops what still runs, reads every log.
    fn wait_and_collect(&self, views: Vec<NodeView>, timeout: Duration) -> Vec<(usize, Vec<Outcome>)> {
        let deadline = Instant::now() + timeout;
        let total: usize = views.iter().map(|v| v.vessels.len()).sum();
        let bar = self.exec.bar(total as u64, "running");
        // Per node: the view, vessels still running, failures so far.
        let mut active: Vec<(NodeView, Vec<Outcome>)> = views.into_iter().map(|v| (v, Vec::new())).collect();
        let mut done: Vec<(NodeView, Vec<Outcome>)> = Vec::new();
        // A node whose worker failed unexpectedly: (index, its outcome).
        let mut lost: Vec<(usize, Vec<Outcome>)> = Vec::new();
        loop {
            let places: Vec<(usize, String)> = active.iter().map(|(v, _)| (v.index, v.addr.clone())).collect();
            let polled = self.exec.map(std::mem::take(&mut active), "", |(mut view, mut failed)| {
                match view.client.send_unsigned(&GetVessels {}.into()) {
                    Ok(all) => {
                        for v in all["vessels"].as_array().into_iter().flatten() {
                            if let Some(mine) = view.vessels.iter_mut().find(|m| v["name"] == m.name.as_str()) {
                                mine.status = v["status"].as_str().unwrap_or("").to_string();
                                mine.last_exit = v["last_exit"].clone();
                            }
                        }
                    }
                    Err(e) => {
                        let e = describe_call("GetVessels", e);
                        for v in view.vessels.drain(..) {
                            failed.push(Outcome::vessel(&view.addr, &v.name, Err(e.clone())));
                        }
                    }
                }
                (view, failed)
            });
            for (r, (index, addr)) in polled.into_iter().zip(places) {
                let (view, failed) = match r {
                    Ok(pair) => pair,
                    Err(e) => {
                        lost.push((index, vec![Outcome::node_failure(&addr, e)]));
                        continue;
                    }
                };
                let running = view.vessels.iter().filter(|v| v.status == "Started").count();
                if running == 0 {
                    done.push((view, failed));
                } else {
                    active.push((view, failed));
                }
            }
            let finished: usize =
                total - active.iter().map(|(v, _)| v.vessels.iter().filter(|m| m.status == "Started").count()).sum::<usize>();
            bar.set_position(finished as u64);
            if active.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        bar.finish_and_clear();
        done.append(&mut active);
        let places: Vec<(usize, String)> = done.iter().map(|(v, _)| (v.index, v.addr.clone())).collect();
        let secs = timeout.as_secs_f64();
        let collected = self.exec.map(done, "logs", move |(mut view, mut outcomes)| {
            let addr = view.addr.clone();
            for v in view.vessels.clone() {
                let timed_out = v.status == "Started";
                if timed_out {
                    let _ = view.client.send(&StopVessel { vessel: v.name.clone() }.into());
                }
                let outcome = match view.client.send(&ReadVesselLog { vessel: v.name.clone() }.into()) {
                    Err(e) => Outcome::vessel(&addr, &v.name, Err(describe_call("ReadVesselLog", e))),
                    Ok(log) => {
                        let mut fields = Map::new();
                        let text = log["log"].as_str().unwrap_or("");
                        fields.insert("log".into(), json!(new_part(&v.log_before, text)));
                        fields.insert("status".into(), json!(if timed_out { "Stopped" } else { v.status.as_str() }));
                        fields.insert("last_exit".into(), v.last_exit.clone());
                        let code = v.last_exit["code"].as_i64();
                        let error = if timed_out {
                            Some(format!("still running after {secs} s: stopped it"))
                        } else if v.status == "Terminated" && code == Some(0) {
                            None
                        } else {
                            let how = match (code, v.last_exit["signal"].as_i64()) {
                                (Some(c), _) => format!("exit status {c}"),
                                (None, Some(s)) => format!("signal {s}"),
                                _ => "no exit status".to_string(),
                            };
                            let reason = v.last_exit["reason"].as_str().unwrap_or("");
                            let why = if reason.is_empty() { String::new() } else { format!(": {reason}") };
                            Some(format!("program ended with status {} ({how}){why}", v.status))
                        };
                        Outcome { node: addr.clone(), vessel: Some(v.name.clone()), error, fields }
                    }
                };
                outcomes.push(outcome);
            }
            (view.index, outcomes)
        });
        let mut all: Vec<(usize, Vec<Outcome>)> = collected
            .into_iter()
            .zip(places)
            .map(|(r, (index, addr))| r.unwrap_or_else(|e| (index, vec![Outcome::node_failure(&addr, e)])))
            .collect();
        all.append(&mut lost);
        all
    }
}

/// What a run added to a log: `after` without `before` when `after` still starts with it (the
/// node keeps the last 16 KiB, so a long log is shown whole).
fn new_part<'a>(before: &str, after: &'a str) -> &'a str {
    after.strip_prefix(before).unwrap_or(after)
}

fn repy_vessel_number(name: &str) -> u64 {
    name.strip_prefix('v').and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

/// Expands the start arguments of every vessel of every reachable node.
fn expand_all(views: &[NodeView], program: &str, raw: &[String]) -> HashMap<(usize, String), Result<Vec<String>, String>> {
    let slots: Vec<(usize, Slot)> = views
        .iter()
        .flat_map(|view| {
            view.vessels.iter().map(move |v| {
                (
                    view.index,
                    Slot {
                        node: view.addr.clone(),
                        vessel: v.name.clone(),
                        ip: view.ip.clone(),
                        port: args::first_port(&v.resources, "messport"),
                        connport: args::first_port(&v.resources, "connport"),
                    },
                )
            })
        })
        .collect();
    let all: Vec<Slot> = slots.iter().map(|(_, s)| s.clone()).collect();
    slots
        .iter()
        .map(|(index, slot)| {
            let expanded = args::expand(raw, slot, &all).and_then(|mut list| {
                list.insert(0, program.to_string());
                if list.len() > MAX_START_ARGS {
                    return Err(format!(
                        "the program and its arguments make {} arguments; a vessel accepts {MAX_START_ARGS} at most",
                        list.len()
                    ));
                }
                Ok(list)
            });
            ((*index, slot.vessel.clone()), expanded)
        })
        .collect()
}

/// Applies the command to each vessel of one node.
fn act_on_node(view: &mut NodeView, command: &Command, expanded: &Expanded) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for v in &mut view.vessels {
        let result = act_on_vessel(&mut view.client, &view.addr, view.index, v, command, expanded);
        outcomes.push(Outcome::vessel(&view.addr, &v.name, result));
    }
    outcomes
}

fn act_on_vessel(
    client: &mut Client,
    addr: &str,
    index: usize,
    v: &mut VesselView,
    command: &Command,
    expanded: &Expanded,
) -> Result<Map<String, Value>, String> {
    let vessel = v.name.clone();
    let mut fields = Map::new();
    let mut call = |request: Request| {
        let name = request.name();
        client.send(&request).map_err(|e| describe_call(name, e))
    };
    match command {
        Command::Browse => {
            fields.insert("status".into(), json!(v.status));
            fields.insert("role".into(), json!(v.role));
            for kind in ["cpu", "memory", "diskused", "messport", "connport"] {
                fields.insert(kind.into(), json!(args::resource_text(&v.resources, kind)));
            }
            fields.insert("last_exit".into(), v.last_exit.clone());
        }
        Command::Upload { files } => {
            for (name, data) in files {
                call(AddFileToVessel { vessel: vessel.clone(), filename: name.clone(), data: STANDARD.encode(data) }.into())
                    .map_err(|e| format!("{name}: {e}"))?;
            }
            fields.insert("files".into(), json!(files.iter().map(|(n, _)| n).collect::<Vec<_>>()));
        }
        Command::Start { .. } => {
            let args = expanded.get(&(index, v.name.clone())).cloned().unwrap_or_else(|| Err("no arguments".into()))?;
            let result = call(StartVessel { vessel, args: args.clone() }.into())?;
            fields.insert("status".into(), result["status"].clone());
            fields.insert("args".into(), json!(args));
        }
        Command::Run { files, .. } => {
            let args = expanded.get(&(index, v.name.clone())).cloned().unwrap_or_else(|| Err("no arguments".into()))?;
            for (name, data) in files {
                call(AddFileToVessel { vessel: vessel.clone(), filename: name.clone(), data: STANDARD.encode(data) }.into())
                    .map_err(|e| format!("{name}: {e}"))?;
            }
            let before = call(ReadVesselLog { vessel: vessel.clone() }.into())?;
            v.log_before = before["log"].as_str().unwrap_or("").to_string();
            let result = call(StartVessel { vessel, args: args.clone() }.into())?;
            fields.insert("status".into(), result["status"].clone());
            fields.insert("args".into(), json!(args));
        }
        Command::Stop => {
            if v.status == "Started" {
                let result = call(StopVessel { vessel }.into())?;
                fields.insert("status".into(), result["status"].clone());
            } else {
                fields.insert("status".into(), json!(v.status));
                fields.insert("note".into(), json!("was not running"));
            }
        }
        Command::Log => {
            let result = call(ReadVesselLog { vessel }.into())?;
            fields.insert("log".into(), result["log"].clone());
            fields.insert("status".into(), json!(v.status));
        }
        Command::List => {
            let result = call(ListFilesInVessel { vessel }.into())?;
            fields.insert("files".into(), result["files"].clone());
        }
        Command::Download { file, to } => {
            let path = download_path(to, addr, &vessel, file)?;
            let result = call(RetrieveFileFromVessel { vessel: vessel.clone(), filename: file.clone() }.into())?;
            let data = STANDARD
                .decode(result["data"].as_str().unwrap_or(""))
                .map_err(|e| format!("RetrieveFileFromVessel: bad file data: {e}"))?;
            let dir = path.parent().expect("download_path has a directory");
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
            std::fs::write(&path, &data).map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
            fields.insert("path".into(), json!(path.display().to_string()));
            fields.insert("bytes".into(), json!(data.len()));
        }
        Command::Reset => {
            call(ResetVessel { vessel }.into())?;
            fields.insert("status".into(), json!("Fresh"));
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_checked_locally() {
        assert_eq!(vessel_file_name(Path::new("examples/allpairsping.py")).unwrap(), "allpairsping.py");
        let e = vessel_file_name(Path::new("dir/Hello.py")).unwrap_err();
        assert!(e.contains("'dir/Hello.py'") && e.contains("file name 'Hello.py' contains 'H'"), "{e}");
        assert!(vessel_file_name(Path::new("private_x")).unwrap_err().contains("reserved"));
        let dir = tempfile::tempdir().unwrap();
        for sub in ["a", "b"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("x.py"), "pass\n").unwrap();
        }
        let e = Command::upload(&[dir.path().join("a/x.py"), dir.path().join("b/x.py")], &[]).err().unwrap();
        assert!(e.contains("two files to upload are named 'x.py'"), "{e}");
        let e = Command::upload(&[dir.path().join("c.py")], &[]).err().unwrap();
        assert!(e.contains("cannot read") && e.contains("c.py"), "{e}");
    }

    #[test]
    fn download_dirs() {
        assert_eq!(download_dir_name("127.0.0.1:1224", "v2"), "127.0.0.1_1224_v2");
        assert_eq!(download_dir_name("[::1]:5", "v1"), "__1_5_v1");
        assert_eq!(download_dir_name("../up/host:1", "v3"), ".._up_host_1_v3");
    }

    #[test]
    fn hostile_vessel_names_never_become_paths() {
        let to = Path::new("/home/u/downloads");
        let path = download_path(to, "127.0.0.1:1224", "v2", "out.txt").unwrap();
        assert_eq!(path, Path::new("/home/u/downloads/127.0.0.1_1224_v2/out.txt"));
        for vessel in ["v1/../../../../tmp/x", "../../etc", "v1/..", "/tmp/x", "v1\0", "", ".", "..", "v1\u{1b}[2J"] {
            let e = download_path(to, "127.0.0.1:1224", vessel, "out.txt").unwrap_err();
            assert!(e.contains("vessel name") && !e.contains('\u{1b}'), "{vessel:?}: {e}");
        }
        for file in ["../x", "a/b", ".hidden", "", "private_key"] {
            assert!(download_path(to, "127.0.0.1:1224", "v1", file).is_err(), "{file:?}");
        }
        // A node address from the user's own nodes file cannot climb out either.
        let path = download_path(to, "../../etc:1", "v1", "f").unwrap();
        assert!(path.starts_with(to) && path.components().count() == to.components().count() + 2, "{}", path.display());
    }
}
