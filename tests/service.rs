//! `repy node install` / `uninstall` end to end with the real binary: the systemd unit it
//! writes passes `systemd-analyze verify`, its ExecStart brings the node up again after a
//! SIGKILL as systemd's `Restart=` would, and the errors name the directory.

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use repy_nodemanager::{client::Client, service};
use serde_json::{json, Value};

mod common;

use common::{free_port, repy};

/// Runs `repy ARGS` and returns (success, stdout, stderr).
fn repy_cli(args: &[&str]) -> (bool, String, String) {
    let out = repy().args(args).output().expect("repy runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A temporary directory with an owner key and a node initialised in `DIR/state`.
struct Donor {
    dir: tempfile::TempDir,
    addr: String,
}

impl Donor {
    fn new() -> Donor {
        Donor::with(&[])
    }

    /// A donor whose `repy node init` gets `more` arguments too.
    fn with(more: &[&str]) -> Donor {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let (ok, _, err) = repy_cli(&["keygen", "owner", "--dir", d]);
        assert!(ok, "{err}");
        let addr = format!("127.0.0.1:{}", free_port());
        let state = dir.path().join("state");
        let owner = dir.path().join("owner.publickey");
        common::node::init(&state, &owner, &addr, 2, more);
        Donor { dir, addr }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn units(&self) -> PathBuf {
        self.dir.path().join("units")
    }

    /// `repy node install --dir STATE --unit-dir UNITS`; returns the unit file's path.
    fn install(&self) -> PathBuf {
        let (ok, out, err) =
            repy_cli(&["node", "install", "--dir", self.state().to_str().unwrap(), "--unit-dir", self.units().to_str().unwrap()]);
        assert!(ok, "install failed: {err}");
        let canonical = std::fs::canonicalize(self.state()).unwrap();
        let path = self.units().join(service::unit_file_name(&canonical));
        assert!(path.is_file(), "no unit at {}: {out}", path.display());
        assert!(out.contains(&path.file_name().unwrap().to_string_lossy().into_owned()), "the unit's name is printed: {out}");
        assert!(out.contains("nothing was registered"), "{out}");
        path
    }
}

/// `systemd-analyze verify UNIT`, failing with what to install when the tool is missing.
fn verify(unit: &Path) -> (bool, String) {
    let out = match Command::new("systemd-analyze").arg("verify").arg(unit).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run systemd-analyze ({e}): install it (Debian: apt-get update && apt-get install -y --no-install-recommends systemd)"
        ),
    };
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_uninstall_removes_it() {
    let donor = Donor::new();
    let unit = donor.install();
    let name = unit.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("repy-node-state-") && name.ends_with(".service"), "{name}");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in ["Restart=always", "RestartSec=5", "[Install]"] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    assert!(text.contains("\nWantedBy=multi-user.target\n") || text.contains("\nWantedBy=default.target\n"), "{text}");
    let args = service::systemd_unquote(service::exec_start(&text).unwrap()).unwrap();
    let state = std::fs::canonicalize(donor.state()).unwrap();
    assert_eq!(args[1..], ["node", "run", "--dir", state.to_str().unwrap()], "{text}");
    assert!(Path::new(&args[0]).is_absolute() && Path::new(&args[0]).is_file(), "{text}");
    let (ok, said) = verify(&unit);
    assert!(ok && !said.contains(&name), "systemd-analyze verify refused {name}:\n{said}\n{text}");
    // The check is real: the same unit with a missing executable is refused.
    let broken = donor.units().join("repy-node-broken.service");
    std::fs::write(&broken, text.replace(&args[0], "/nonexistent/repy")).unwrap();
    let (ok, said) = verify(&broken);
    assert!(!ok && said.contains("/nonexistent/repy"), "{said}");
    std::fs::remove_file(&broken).unwrap();

    // A second node on the same machine gets a unit of its own; one that a user owns runs as
    // that user (seen when the tests run as root, who can give it away).
    let other = Donor::new();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(other.state(), Some(1000), Some(1000)).unwrap();
    }
    let (ok, _, err) =
        repy_cli(&["node", "install", "--dir", other.state().to_str().unwrap(), "--unit-dir", donor.units().to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_dir(donor.units()).unwrap().count(), 2);
    let other_unit = donor.units().join(service::unit_file_name(&std::fs::canonicalize(other.state()).unwrap()));
    let other_text = std::fs::read_to_string(&other_unit).unwrap();
    if root {
        assert!(other_text.lines().any(|l| l == "User=1000"), "{other_text}");
    }
    assert_eq!(text.contains("User="), !root, "a node runs as its directory's owner, root's without User=: {text}");
    let (ok, said) = verify(&other_unit);
    assert!(ok, "{said}\n{other_text}");

    let (ok, out, err) =
        repy_cli(&["node", "uninstall", "--dir", donor.state().to_str().unwrap(), "--unit-dir", donor.units().to_str().unwrap()]);
    assert!(ok, "uninstall failed: {err}");
    assert!(out.contains("removed") && out.contains(&name), "{out}");
    assert!(!unit.exists());
    assert_eq!(std::fs::read_dir(donor.units()).unwrap().count(), 1, "the other node's unit stays");
    // Uninstalling again: nothing is installed for it, and the error names the directory.
    let (ok, _, err) =
        repy_cli(&["node", "uninstall", "--dir", donor.state().to_str().unwrap(), "--unit-dir", donor.units().to_str().unwrap()]);
    assert!(!ok && err.contains("no service is installed for node directory") && err.contains("state'"), "{err}");
}

#[test]
fn a_directory_that_is_not_a_node_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("photos");
    std::fs::create_dir(&plain).unwrap();
    for target in [plain.clone(), dir.path().join("missing")] {
        let (ok, out, err) =
            repy_cli(&["node", "install", "--dir", target.to_str().unwrap(), "--unit-dir", dir.path().join("units").to_str().unwrap()]);
        assert!(!ok && out.is_empty(), "{out}");
        assert!(err.contains(&format!("'{}' is not a node state directory", target.display())) && err.contains("node.toml"), "{err}");
    }
    assert!(!dir.path().join("units").exists(), "nothing is written for a refused directory");
    let (ok, _, err) = repy_cli(&["node", "install", "--dir", plain.to_str().unwrap(), "--system", "--user"]);
    assert!(!ok && err.contains("--system") && err.contains("--user"), "{err}");
}

/// Without --unit-dir, as a user: the unit goes to $XDG_CONFIG_HOME/systemd/user. Where systemd
/// is not running (this container, CI) install says the unit was written and not started.
#[test]
fn without_systemd_the_unit_is_written_and_the_start_command_shown() {
    if Path::new("/run/systemd/system").exists() {
        // Installing would really enable a service of the user running the tests.
        eprintln!("systemd runs on this machine: not installing a real user service from a test");
        return;
    }
    let donor = Donor::new();
    let config = donor.dir.path().join("config");
    let run = |action: &str| {
        let out = repy()
            .args(["node", action, "--user", "--dir", donor.state().to_str().unwrap()])
            .env("XDG_CONFIG_HOME", &config)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, out, err) = run("install");
    assert!(ok, "{err}");
    let units: Vec<_> = std::fs::read_dir(config.join("systemd/user")).unwrap().flatten().collect();
    assert_eq!(units.len(), 1);
    let name = units[0].file_name().to_string_lossy().into_owned();
    assert!(out.contains("systemd is not running") && out.contains("NOT started"), "{out}");
    assert!(out.contains(&format!("systemctl --user enable --now {name}")), "{out}");
    let (ok, out, err) = run("uninstall");
    assert!(ok && out.contains("removed"), "{out}{err}");
    assert_eq!(std::fs::read_dir(config.join("systemd/user")).unwrap().count(), 0);
}

/// Starts the unit's ExecStart line as systemd would, and waits until it listens.
fn start_exec(line: &str, addr: &str, log: &Path) -> Child {
    let args = service::systemd_unquote(line).unwrap();
    // A cross-built repy runs under the runner the other tests use (see tests/common).
    let mut command = match std::env::var("REPY_TEST_RUNNER").ok().filter(|r| !r.is_empty()) {
        Some(runner) => {
            let mut words = runner.split_whitespace();
            let mut c = Command::new(words.next().unwrap());
            c.args(words).args(&args);
            c
        }
        None => {
            let mut c = Command::new(&args[0]);
            c.args(&args[1..]);
            c
        }
    };
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("`{line}` exited with {status}");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "`{line}` does not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// (node key, vessels as `repy node call GetVessels` prints them).
fn ask(addr: &str) -> (String, Value) {
    let key = Client::connect(addr).unwrap().node_key().unwrap().as_str().to_string();
    let (ok, out, err) = repy_cli(&["node", "call", "--node", addr, "GetVessels"]);
    assert!(ok, "{err}");
    let vessels: Value = serde_json::from_str(&out).unwrap();
    (key, vessels["vessels"].clone())
}

#[test]
fn a_reboot_runs_the_same_node_again() {
    let donor = Donor::new();
    let unit = donor.install();
    let text = std::fs::read_to_string(&unit).unwrap();
    let line = service::exec_start(&text).unwrap().to_string();
    let log = donor.dir.path().join("node.log");
    let mut node = start_exec(&line, &donor.addr, &log);
    let (key, vessels) = ask(&donor.addr);
    assert_eq!(vessels.as_array().map(Vec::len), Some(2), "{vessels}");

    // A running program, to see it come back too.
    let owner = donor.dir.path().join("owner").display().to_string();
    let program = donor.dir.path().join("loop.py");
    std::fs::write(&program, "if callfunc == 'initialize':\n    while True:\n        sleep(0.1)\n").unwrap();
    let call = |args: &[&str]| {
        let (ok, out, err) = repy_cli(&[&["node", "call", "--key", &owner, "--node", &donor.addr][..], args].concat());
        assert!(ok, "{args:?}: {err}");
        out
    };
    call(&["AddFileToVessel", "vessel=v1", "filename=loop.py", &format!("data=@{}", program.display())]);
    call(&["StartVessel", "vessel=v1", "args=[\"loop.py\"]"]);

    // What systemd's Restart= does after a crash: the same command line again.
    node.kill().unwrap();
    node.wait().unwrap();
    assert!(TcpStream::connect(&donor.addr).is_err(), "the node is down");
    let mut node = start_exec(&line, &donor.addr, &log);
    let (key_after, vessels_after) = ask(&donor.addr);
    assert_eq!(key_after, key, "the same node key");
    let names = |v: &Value| v.as_array().unwrap().iter().map(|v| (v["name"].clone(), v["owner_key"].clone())).collect::<Vec<_>>();
    assert_eq!(names(&vessels_after), names(&vessels), "the same vessels and owners");
    let start = Instant::now();
    loop {
        let (_, now) = ask(&donor.addr);
        let v1 = now.as_array().unwrap().iter().find(|v| v["name"] == "v1").unwrap().clone();
        if v1["status"] == json!("Started") && v1["pid"].is_u64() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the running vessel was not started again: {now}");
        std::thread::sleep(Duration::from_millis(100));
    }
    node.kill().unwrap();
    node.wait().unwrap();
}

/// What `repy lookup --json` reports for the owner key through `bootstrap`, polled until
/// `address` is among the answers (at most 20 s).
fn found_on_dht(owner: &str, bootstrap: &str, address: &str) -> Value {
    let start = Instant::now();
    loop {
        let (ok, out, err) = repy_cli(&["lookup", "--key", owner, "--bootstrap", bootstrap, "--json", "--timeout", "5"]);
        if ok {
            let found: Value = serde_json::from_str(&out).unwrap();
            if let Some(entry) = found.as_array().unwrap().iter().find(|f| f["address"] == address) {
                return entry.clone();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{address} not found on the DHT: {out}{err}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The "install, reboot and be found": a donor installs a node that announces on the
/// DHT; a user deploys with only their key and the bootstrap address; the node is killed, its
/// ExecStart runs again, and it is found and used again.
#[test]
fn an_installed_node_is_found_on_the_dht_before_and_after_a_reboot() {
    let dht = format!("127.0.0.1:{}", free_port());
    let donor = Donor::with(&["--discovery-listen", &dht]);
    let line = service::exec_start(&std::fs::read_to_string(donor.install()).unwrap()).unwrap().to_string();
    let log = donor.dir.path().join("node.log");
    let owner = donor.dir.path().join("owner").display().to_string();
    let mut node = start_exec(&line, &donor.addr, &log);
    let before = found_on_dht(&owner, &dht, &donor.addr);
    assert_eq!(before["vessels"], json!(["v1", "v2"]), "{before}");
    let (ok, out, err) = repy_cli(&["fleet", "--key", &owner, "--bootstrap", &dht, "--json", "browse"]);
    assert!(ok, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["results"].as_array().unwrap().len(), 2, "{doc}");

    node.kill().unwrap();
    node.wait().unwrap();
    let mut node = start_exec(&line, &donor.addr, &log);
    let after = found_on_dht(&owner, &dht, &donor.addr);
    assert_eq!(after["node_key"], before["node_key"], "the same node");
    let (ok, out, err) = repy_cli(&["fleet", "--key", &owner, "--bootstrap", &dht, "run", "--timeout", "60", &example_hello(), "{vessel}"]);
    assert!(ok, "deploy after the reboot: {out}{err}");
    assert!(out.contains("Hello, v1!") && out.contains("Hello, v2!"), "{out}");
    node.kill().unwrap();
    node.wait().unwrap();
}

fn example_hello() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello.py").display().to_string()
}
