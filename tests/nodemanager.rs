//! The node manager end to end: `repy keygen`, `repy node init`, `repy node run` on a loopback
//! port, and every request through the real protocol with the signing client.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD, Engine};
use repy_nodemanager::{
    client::{Client, ClientError},
    frame,
    keys::{self, SecretKey},
    request::{self, unix_micros, unix_now, Code},
};
use serde_json::{json, Value};

mod common;

use common::repy;

/// Runs `repy ARGS` and returns (success, stdout, stderr).
fn repy_cli(args: &[&str]) -> (bool, String, String) {
    let out = repy().args(args).output().expect("repy runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `f` every 50 ms until it returns Some, failing after `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const LOOP_PROGRAM: &str = "if callfunc == 'initialize':\n    print('running', callargs)\n    while True:\n        sleep(0.05)\n";
const HELLO_PROGRAM: &str = "if callfunc == 'initialize':\n    print('hello', callargs)\n";

/// A node manager on a loopback port with its state in a temporary directory.
struct Node {
    dir: tempfile::TempDir,
    addr: String,
    child: Option<Child>,
}

impl Node {
    /// keygen `owner`, node init with 4 vessels and fixed resources, node run.
    fn start(extra_config: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let (ok, _, err) = repy_cli(&["keygen", "owner", "--dir", dir.path().to_str().unwrap()]);
        assert!(ok, "{err}");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let state = dir.path().join("state");
        let owner = dir.path().join("owner.publickey");
        let out = common::node::init(&state, &owner, &addr, 4, &["--ports", "63100-63199"]);
        assert!(out.contains("4 vessels"), "{out}");
        common::node::set(&state, extra_config);
        let mut node = Node { dir, addr, child: None };
        node.run();
        node
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("node.log")
    }

    fn run(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let child = repy()
            .args(["node", "run", "--dir", self.state().to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let addr = self.addr.clone();
        wait_for("the node manager to listen", Duration::from_secs(30), || {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("node manager exited with {status}: {}", self.log());
            }
            TcpStream::connect(&addr).ok()
        });
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn kill9(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn terminate(&mut self) {
        let mut child = self.child.take().unwrap();
        repy_portability::child::signal_process(child.id(), repy_portability::child::Signal::Terminate).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "node manager exited with {status} after SIGTERM: {}", self.log());
    }

    fn key(&self, name: &str) -> SecretKey {
        keys::read_secret_key(&self.dir.path().join(format!("{name}.privatekey"))).unwrap()
    }

    fn new_key(&self, name: &str) -> SecretKey {
        keys::write_key_pair(self.dir.path(), name).unwrap();
        self.key(name)
    }

    fn client(&self, key: Option<SecretKey>) -> Client {
        let c = Client::connect(&self.addr).unwrap();
        match key {
            Some(k) => c.with_key(k),
            None => c,
        }
    }

    fn owner(&self) -> Client {
        self.client(Some(self.key("owner")))
    }

    fn vessel(&self, name: &str) -> Value {
        let all = self.client(None).call("GetVessels", json!({})).unwrap();
        all["vessels"].as_array().unwrap().iter().find(|v| v["name"] == name).cloned().unwrap_or(Value::Null)
    }

    fn wait_status(&self, vessel: &str, status: &str, limit: Duration) -> Value {
        wait_for(&format!("{vessel} to be {status}"), limit, || {
            let v = self.vessel(vessel);
            (v["status"] == status).then_some(v)
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn code(result: Result<Value, ClientError>) -> Code {
    match result {
        Err(ClientError::Remote(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn refusal(result: Result<Value, ClientError>) -> (Code, String) {
    match result {
        Err(ClientError::Remote(e)) => (e.code, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn upload(c: &mut Client, vessel: &str, name: &str, data: &[u8]) -> Result<Value, ClientError> {
    c.call("AddFileToVessel", json!({"vessel": vessel, "filename": name, "data": STANDARD.encode(data)}))
}

fn files(c: &mut Client, vessel: &str) -> Vec<String> {
    let r = c.call("ListFilesInVessel", json!({"vessel": vessel})).unwrap();
    r["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
}

fn log_of(c: &mut Client, vessel: &str) -> String {
    c.call("ReadVesselLog", json!({"vessel": vessel})).unwrap()["log"].as_str().unwrap().to_string()
}

#[test]
fn every_request_succeeds_for_the_owner_and_users() {
    let node = Node::start("");
    let mut owner = node.owner();
    let owner_key = node.key("owner").public();

    // Public calls, unsigned.
    let mut public = node.client(None);
    let all = public.call("GetVessels", json!({})).unwrap();
    let names: Vec<&str> = all["vessels"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["v1", "v2", "v3", "v4"]);
    assert_eq!(all["vessels"][0]["owner_key"], owner_key.as_str());
    assert_eq!(all["vessels"][0]["status"], "Fresh");
    assert!(all["vessels"][0].get("last_start").is_none());
    assert_eq!(all["node"]["key"].as_str().unwrap().len(), 44);
    let res = public.call("GetVesselResources", json!({"vessel": "v2"})).unwrap()["resources"].as_str().unwrap().to_string();
    assert!(res.starts_with("resource cpu 0.198\nresource memory 499000000\n"), "{res}");
    assert!(res.contains("resource connport 63125-63149\n"), "{res}");
    let offcut = public.call("GetOffcutResources", json!({})).unwrap()["resources"].as_str().unwrap().to_string();
    assert!(offcut.starts_with("resource cpu 0.002\nresource memory 1000000\nresource diskused 100000\n"), "{offcut}");

    // Files.
    upload(&mut owner, "v1", "hello.py", HELLO_PROGRAM.as_bytes()).unwrap();
    upload(&mut owner, "v1", "data.txt", b"version 1").unwrap();
    upload(&mut owner, "v1", "data.txt", b"version 2").unwrap();
    assert_eq!(files(&mut owner, "v1"), ["data.txt", "hello.py"]);
    let got = owner.call("RetrieveFileFromVessel", json!({"vessel": "v1", "filename": "data.txt"})).unwrap();
    assert_eq!(STANDARD.decode(got["data"].as_str().unwrap()).unwrap(), b"version 2");
    owner.call("DeleteFileInVessel", json!({"vessel": "v1", "filename": "data.txt"})).unwrap();
    assert_eq!(files(&mut owner, "v1"), ["hello.py"]);
    // An operator's private file is neither listed nor removed by a reset.
    std::fs::write(node.state().join("vessels/v1/private_note"), "operator").unwrap();
    assert_eq!(files(&mut owner, "v1"), ["hello.py"]);

    // A program that ends by itself; its output reaches the log.
    let r = owner.call("StartVessel", json!({"vessel": "v1", "args": ["hello.py", "a1", "b2"]})).unwrap();
    assert_eq!(r["status"], "Started");
    let v = node.wait_status("v1", "Terminated", Duration::from_secs(30));
    assert_eq!(v["last_exit"]["code"], 0);
    assert!(log_of(&mut owner, "v1").contains("hello ['a1', 'b2']"));

    // A program that runs until stopped; StartVesselEx with the platform in any case.
    upload(&mut owner, "v1", "loop.py", LOOP_PROGRAM.as_bytes()).unwrap();
    owner.call("StartVesselEx", json!({"vessel": "v1", "platform": "RepyV1", "args": ["loop.py"]})).unwrap();
    let v = node.vessel("v1");
    assert_eq!(v["status"], "Started");
    assert!(v["pid"].as_u64().is_some());
    wait_for("the loop to print", Duration::from_secs(30), || log_of(&mut owner, "v1").contains("running []").then_some(()));
    let (ok, status_text, _) = repy_cli(&["node", "status", "--dir", node.state().to_str().unwrap()]);
    assert!(ok);
    let line = status_text.lines().find(|l| l.starts_with("v1 ")).unwrap().to_string();
    assert!(line.contains("Started") && line.contains(&owner_key.as_str()[..8]), "{status_text}");
    // MEMORY USED/LIMIT, the sixth column: e.g. 35.2MB/500.0MB.
    let resident = line.split_whitespace().nth(5).and_then(|m| m.split('/').next()).unwrap().to_string();
    assert!(resident.ends_with("MB") || resident.ends_with("GB"), "resident memory of the running vessel: {status_text}");
    let r = owner.call("StopVessel", json!({"vessel": "v1"})).unwrap();
    assert_eq!(r["status"], "Stopped");
    assert_eq!(node.vessel("v1")["status"], "Stopped");
    assert_eq!(node.vessel("v1")["pid"], Value::Null);

    // Reset: files and log gone except private ones, status Fresh.
    owner.call("ResetVessel", json!({"vessel": "v1"})).unwrap();
    let v = node.vessel("v1");
    assert_eq!((v["status"].clone(), v["last_exit"].clone()), (json!("Fresh"), Value::Null));
    assert!(files(&mut owner, "v1").is_empty());
    assert_eq!(log_of(&mut owner, "v1"), "");
    assert!(node.state().join("vessels/v1/private_note").exists());

    // Users may use the vessel but not manage it.
    let user = node.new_key("user");
    let seq = owner.next_seq();
    let req = owner
        .signed_request(
            "ChangeUsers",
            json!({"vessel": "v1", "user_keys": [user.public().as_str(), user.public().as_str()]}),
            seq,
            unix_now() + 60,
        )
        .unwrap();
    let response = owner.roundtrip(&req).unwrap();
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(response["warning"], "1 duplicate user key(s) ignored");
    assert_eq!(node.vessel("v1")["user_keys"], json!([user.public().as_str()]), "duplicates removed");
    let mut as_user = node.client(Some(user));
    upload(&mut as_user, "v1", "hello.py", HELLO_PROGRAM.as_bytes()).unwrap();
    assert_eq!(files(&mut as_user, "v1"), ["hello.py"]);
    assert_eq!(code(as_user.call("ChangeAdvertise", json!({"vessel": "v1", "advertise": false}))), Code::Forbidden);

    owner.call("ChangeOwnerInformation", json!({"vessel": "v1", "info": "experiment 7"})).unwrap();
    owner.call("ChangeAdvertise", json!({"vessel": "v1", "advertise": false})).unwrap();
    let v = node.vessel("v1");
    assert_eq!((v["owner_info"].clone(), v["advertise"].clone()), (json!("experiment 7"), json!(false)));

    // Split then join gives back the original resources.
    let before = public.call("GetVesselResources", json!({"vessel": "v3"})).unwrap()["resources"].clone();
    let r = owner
        .call("SplitVessel", json!({"vessel": "v3", "resources": "resource cpu 0.05\nresource memory 100000000\nresource diskused 10000000\nresource events 5\nresource messport 63150-63154\nresource connport 63150\n"}))
        .unwrap();
    assert_eq!(r["vessels"], json!(["v5", "v6"]));
    assert_eq!(node.vessel("v3"), Value::Null, "the original is destroyed");
    let left = public.call("GetVesselResources", json!({"vessel": "v5"})).unwrap()["resources"].as_str().unwrap().to_string();
    assert!(left.starts_with("resource cpu 0.146\nresource memory 398000000\n"), "{left}");
    assert!(left.contains("resource messport 63155-63174\n"), "{left}");
    assert!(!node.state().join("resources/v3.restrictions").exists());
    let r = owner.call("JoinVessels", json!({"vessel": "v5", "vessel2": "v6"})).unwrap();
    assert_eq!(r["vessel"], "v7");
    let joined = public.call("GetVesselResources", json!({"vessel": "v7"})).unwrap()["resources"].clone();
    assert_eq!(joined, before);
    assert_eq!(node.vessel("v7")["status"], "Fresh");

    // Ownership moves: owner info reset, advertise on, old owner locked out of owner calls.
    let new_owner = node.new_key("newowner");
    owner.call("ChangeOwner", json!({"vessel": "v1", "owner_key": new_owner.public().as_str()})).unwrap();
    let v = node.vessel("v1");
    assert_eq!(v["owner_key"], new_owner.public().as_str());
    assert_eq!((v["owner_info"].clone(), v["advertise"].clone()), (json!(""), json!(true)));
    assert_eq!(code(owner.call("ChangeAdvertise", json!({"vessel": "v1", "advertise": true}))), Code::Forbidden);
    let mut as_new = node.client(Some(new_owner));
    as_new.call("ChangeAdvertise", json!({"vessel": "v1", "advertise": false})).unwrap();

    // Every request was logged with the caller's fingerprint, the call and the result.
    let log = node.log();
    assert!(log.contains(&format!("key={} call=SplitVessel vessel=v3 result=ok", &owner_key.as_str()[..8])), "{log}");
}

#[test]
fn refusals_name_the_culprit_and_the_node_keeps_serving() {
    // A smaller transfer limit keeps the oversize upload quick (the default one is tested by
    // an_upload_of_the_largest_size_fits_and_one_byte_more_is_refused).
    let node = Node::start("max_file_bytes = 1000000");
    let mut owner = node.owner();
    let stranger = node.new_key("stranger");
    let mut as_stranger = node.client(Some(stranger));
    let v1 = json!({"vessel": "v1"});

    // Wrong key, user calling an owner call, unsigned non-public call.
    let (c, m) = refusal(as_stranger.call("ListFilesInVessel", v1.clone()));
    assert_eq!(c, Code::Forbidden);
    assert!(m.contains("v1"), "{m}");
    let user = node.new_key("user2");
    owner.call("ChangeUsers", json!({"vessel": "v1", "user_keys": [user.public().as_str()]})).unwrap();
    let mut as_user = node.client(Some(user));
    assert_eq!(code(as_user.call("SplitVessel", json!({"vessel": "v1", "resources": "resource cpu 0.01\n"}))), Code::Forbidden);
    assert_eq!(code(node.client(None).call("ListFilesInVessel", v1.clone())), Code::BadSignature);

    // Replay: the same signed request twice; the second is refused and not executed.
    let seq = owner.next_seq();
    let req = owner.signed_request("ChangeOwnerInformation", json!({"vessel": "v1", "info": "once"}), seq, unix_now() + 60).unwrap();
    assert_eq!(owner.roundtrip(&req).unwrap()["ok"], true);
    owner.call("ChangeOwnerInformation", json!({"vessel": "v1", "info": "later"})).unwrap();
    let again = owner.roundtrip(&req).unwrap();
    assert_eq!(again["error"]["code"], "Replay", "{again}");
    assert!(again["error"]["last_seq"].as_u64().unwrap() > seq);
    assert_eq!(node.vessel("v1")["owner_info"], "later");

    // Expired and too far in the future.
    let seq = owner.next_seq();
    let req = owner.signed_request("ListFilesInVessel", v1.clone(), seq, unix_now() - 10).unwrap();
    assert_eq!(owner.roundtrip(&req).unwrap()["error"]["code"], "Expired");
    let seq = owner.next_seq();
    let req = owner.signed_request("ListFilesInVessel", v1.clone(), seq, unix_now() + 7200).unwrap();
    assert_eq!(owner.roundtrip(&req).unwrap()["error"]["code"], "Expired");

    // Forged: the stranger's key claims the owner's signed request; an altered inner part.
    let seq = owner.next_seq();
    let mut req = owner.signed_request("ListFilesInVessel", v1.clone(), seq, unix_now() + 60).unwrap();
    let good = req.clone();
    req["key"] = json!(node.key("stranger").public().as_str());
    assert_eq!(owner.roundtrip(&req).unwrap()["error"]["code"], "BadSignature");
    let mut altered = good.clone();
    let inner = String::from_utf8(STANDARD.decode(good["signed"].as_str().unwrap()).unwrap()).unwrap();
    altered["signed"] = json!(STANDARD.encode(inner.replace("\"v1\"", "\"v2\"")));
    assert_eq!(owner.roundtrip(&altered).unwrap()["error"]["code"], "BadSignature");
    // The genuine request still works: a forged copy consumed nothing.
    assert_eq!(owner.roundtrip(&good).unwrap()["ok"], true);

    // Addressed to another node.
    let other = SecretKey::generate();
    let inner = json!({"call": "ListFilesInVessel", "args": v1, "node": other.public().as_str(), "seq": owner.next_seq(), "expires": unix_now() + 60});
    let signed = serde_json::to_vec(&inner).unwrap();
    let owner_secret = node.key("owner");
    let mut message = b"repy-nodemanager-request-v1\n".to_vec();
    message.extend_from_slice(&signed);
    let req = json!({"v": 1, "key": owner_secret.public().as_str(), "signed": STANDARD.encode(&signed), "sig": STANDARD.encode(owner_secret.sign(&message))});
    assert_eq!(owner.roundtrip(&req).unwrap()["error"]["code"], "WrongNode");

    // Files: oversize, path in the name, reserved names, missing files, quota.
    let big = vec![b'x'; 1_000_001];
    let (c, m) = refusal(upload(&mut owner, "v1", "big.bin", &big));
    assert_eq!(c, Code::FileTooLarge);
    assert!(m.contains("big.bin"), "{m}");
    for bad in ["../escape.py", "dir/file.py", ".hidden", "UPPER.py", ""] {
        assert_eq!(code(upload(&mut owner, "v1", bad, b"x")), Code::BadFilename, "{bad:?}");
    }
    assert_eq!(code(upload(&mut owner, "v1", "private_x", b"x")), Code::BadFilename);
    assert!(!node.state().join("escape.py").exists() && !node.state().join("vessels/escape.py").exists());
    let (c, m) = refusal(owner.call("RetrieveFileFromVessel", json!({"vessel": "v1", "filename": "nothing.txt"})));
    assert!(c == Code::NoSuchFile && m.contains("nothing.txt"), "{m}");
    assert_eq!(code(owner.call("DeleteFileInVessel", json!({"vessel": "v1", "filename": "nothing.txt"}))), Code::NoSuchFile);
    // A vessel with 3 MB of disk takes two files of 1 MB (+ 4096 each), not three.
    let r = owner
        .call("SplitVessel", json!({"vessel": "v4", "resources": "resource cpu 0.01\nresource memory 1000000\nresource diskused 3000000\nresource events 1\n"}))
        .unwrap();
    assert_eq!(r["vessels"], json!(["v5", "v6"]));
    let chunk = vec![b'y'; 1_000_000];
    upload(&mut owner, "v6", "f0", &chunk).unwrap();
    upload(&mut owner, "v6", "f1", &chunk).unwrap();
    upload(&mut owner, "v6", "f1", &chunk).unwrap();
    let (c, m) = refusal(upload(&mut owner, "v6", "f2", &chunk));
    assert!(c == Code::DiskQuota && m.contains("f2") && m.contains("3000000"), "{m}");
    assert_eq!(files(&mut owner, "v6"), ["f0", "f1"]);

    // Arguments and states.
    let (c, m) = refusal(owner.call("StopVessel", json!({"vessel": "v2"})));
    assert!(c == Code::InvalidState && m.contains("Fresh"), "{m}");
    assert_eq!(code(owner.call("StopVessel", json!({"vessel": "v99"}))), Code::NoSuchVessel);
    let (c, m) = refusal(owner.call("StopVessel", json!({"vessel": "v1", "force": true})));
    assert!(c == Code::BadArguments && m.contains("force"), "{m}");
    assert_eq!(code(owner.call("StartVessel", json!({"vessel": "v1", "args": ["has space.py"]}))), Code::BadArguments);
    assert_eq!(code(owner.call("StartVessel", json!({"vessel": "v1", "args": ["missing.py"]}))), Code::NoSuchFile);
    assert_eq!(
        code(owner.call("StartVesselEx", json!({"vessel": "v1", "platform": "python", "args": ["x.py"]}))),
        Code::UnsupportedPlatform
    );
    assert_eq!(code(owner.call("ChangeOwner", json!({"vessel": "v1", "owner_key": "not-a-key"}))), Code::BadKey);
    assert_eq!(code(owner.call("ChangeOwnerInformation", json!({"vessel": "v1", "info": "x".repeat(257)}))), Code::LimitExceeded);
    let many: Vec<String> = (0..17).map(|_| SecretKey::generate().public().as_str().to_string()).collect();
    assert_eq!(code(owner.call("ChangeUsers", json!({"vessel": "v1", "user_keys": many}))), Code::LimitExceeded);
    let (c, m) = refusal(owner.call(
        "SplitVessel",
        json!({"vessel": "v2", "resources": "resource cpu 5\nresource memory 1000000\nresource diskused 1000000\nresource events 1\n"}),
    ));
    assert!(c == Code::ResourceMath && m.contains("'cpu'"), "{m}");
    assert_eq!(code(owner.call("SplitVessel", json!({"vessel": "v2", "resources": "resource cpu abc\n"}))), Code::BadResources);
    assert_eq!(code(owner.call("JoinVessels", json!({"vessel": "v2", "vessel2": "v2"}))), Code::BadArguments);
    owner.call("ChangeOwner", json!({"vessel": "v3", "owner_key": node.key("stranger").public().as_str()})).unwrap();
    assert_eq!(code(owner.call("JoinVessels", json!({"vessel": "v2", "vessel2": "v3"}))), Code::OwnerMismatch);
    let (c, m) = refusal(owner.call("FormatDisk", json!({})));
    assert!(c == Code::UnknownCall && m.contains("FormatDisk"), "{m}");

    // Malformed frames close that connection; others are still served.
    let mut raw = TcpStream::connect(&node.addr).unwrap();
    raw.write_all(&frame::encode_bytes(b"{not json")).unwrap();
    let response = read_response(&mut raw);
    assert_eq!(response["error"]["code"], "BadFrame", "{response}");
    assert_eq!(raw.read(&mut [0u8; 1]).unwrap(), 0, "the connection is closed after a bad frame");
    let mut raw = TcpStream::connect(&node.addr).unwrap();
    raw.write_all(&(64 * 1024 * 1024u32).to_be_bytes()).unwrap();
    let response = read_response(&mut raw);
    assert_eq!(response["error"]["code"], "BadFrame");
    assert!(response["error"]["message"].as_str().unwrap().contains("67108864"), "{response}");
    let mut raw = TcpStream::connect(&node.addr).unwrap();
    raw.write_all(&frame::encode(&json!({"v": 1, "id": "x1", "call": "GetVessels", "args": {}, "extra": 1}))).unwrap();
    let response = read_response(&mut raw);
    assert_eq!((response["id"].clone(), response["error"]["code"].clone()), (json!("x1"), json!("BadFrame")));
    // A slow client that sends half a frame does not hold up anyone else.
    let mut slow = TcpStream::connect(&node.addr).unwrap();
    slow.write_all(&[0, 0, 0, 100, b'{']).unwrap();
    assert_eq!(owner.call("ListFilesInVessel", json!({"vessel": "v1"})).unwrap()["files"], json!([]));
    assert!(node.client(None).call("GetVessels", json!({})).is_ok());
    drop(slow);
}

fn read_response(stream: &mut TcpStream) -> Value {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = frame::read_frame_blocking(stream, 1 << 20).unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn a_memory_hog_is_terminated_while_another_vessel_keeps_running() {
    let node = Node::start("");
    let mut owner = node.owner();
    upload(&mut owner, "v1", "loop.py", LOOP_PROGRAM.as_bytes()).unwrap();
    upload(&mut owner, "v2", "hog.py", b"x = 'a' * 10**10\nprint('allocated')\n").unwrap();
    owner.call("StartVessel", json!({"vessel": "v1", "args": ["loop.py"]})).unwrap();
    owner.call("StartVessel", json!({"vessel": "v2", "args": ["hog.py"]})).unwrap();
    let hog = node.wait_status("v2", "Terminated", Duration::from_secs(40));
    assert_eq!(hog["last_exit"]["code"], 4, "{hog}");
    let reason = hog["last_exit"]["reason"].as_str().unwrap();
    assert!(reason.contains("memory"), "{reason}");
    assert!(!log_of(&mut owner, "v2").contains("allocated"));
    let runner = node.vessel("v1");
    assert_eq!(runner["status"], "Started");
    let pid = runner["pid"].as_u64().unwrap() as i32;
    assert!(repy_portability::child::process_exists(pid as u32), "the other vessel's process is alive");
    assert_eq!(owner.call("StopVessel", json!({"vessel": "v1"})).unwrap()["status"], "Stopped");
}

#[test]
fn sigkill_during_a_burst_loses_nothing_and_restarts_started_vessels() {
    // The burst must end only because of the kill, never because of the rate limit.
    let mut node = Node::start("max_requests_per_s = 1000000");
    let mut owner = node.owner();
    let user = node.new_key("user");
    owner.call("ChangeUsers", json!({"vessel": "v2", "user_keys": [user.public().as_str()]})).unwrap();
    owner.call("ChangeOwnerInformation", json!({"vessel": "v2", "info": "kept"})).unwrap();
    owner.call("ChangeAdvertise", json!({"vessel": "v2", "advertise": false})).unwrap();
    owner.call("SplitVessel", json!({"vessel": "v4", "resources": "resource cpu 0.01\nresource memory 1000000\nresource diskused 1000000\nresource events 1\n"})).unwrap();
    upload(&mut owner, "v1", "loop.py", LOOP_PROGRAM.as_bytes()).unwrap();
    owner.call("StartVessel", json!({"vessel": "v1", "args": ["loop.py", "again"]})).unwrap();
    let old_pid = node.vessel("v1")["pid"].as_u64().unwrap();
    let replayable = {
        let seq = owner.next_seq();
        let req = owner.signed_request("ListFilesInVessel", json!({"vessel": "v1"}), seq, unix_now() + 600).unwrap();
        assert_eq!(owner.roundtrip(&req).unwrap()["ok"], true);
        req
    };

    // A burst of uploads from another thread; the node manager is killed in the middle.
    let addr = node.addr.clone();
    let burst_key = node.key("owner");
    // The kill waits for 20 acknowledgements (a file on disk may not be acknowledged yet).
    let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acks_seen = acks.clone();
    let burst = std::thread::spawn(move || {
        let mut c = Client::connect(&addr).unwrap().with_key(burst_key);
        let mut acknowledged = Vec::new();
        for i in 0..100_000 {
            let data = format!("file number {i}\n").repeat(50);
            match upload(&mut c, "v3", &format!("f{i}"), data.as_bytes()) {
                Ok(_) => {
                    acknowledged.push(i);
                    acks_seen.store(acknowledged.len(), std::sync::atomic::Ordering::SeqCst);
                }
                Err(_) => break,
            }
        }
        acknowledged
    });
    wait_for("some uploads", Duration::from_secs(30), || (acks.load(std::sync::atomic::Ordering::SeqCst) >= 20).then_some(()));
    node.kill9();
    let acknowledged = burst.join().unwrap();
    assert!(acknowledged.len() >= 20, "{}", acknowledged.len());
    // PR_SET_PDEATHSIG: the vessel died with its node manager.
    wait_for("the old vessel process to end", Duration::from_secs(10), || {
        (!repy_portability::child::process_exists(old_pid as u32)).then_some(())
    });

    node.run();
    let mut owner = node.owner();
    let present = files(&mut owner, "v3");
    for i in &acknowledged {
        assert!(present.contains(&format!("f{i}")), "acknowledged file f{i} lost");
    }
    for name in &present {
        let got = owner.call("RetrieveFileFromVessel", json!({"vessel": "v3", "filename": name})).unwrap();
        let data = STANDARD.decode(got["data"].as_str().unwrap()).unwrap();
        let i: usize = name[1..].parse().unwrap();
        assert_eq!(data, format!("file number {i}\n").repeat(50).into_bytes(), "{name} is whole");
    }
    let v2 = node.vessel("v2");
    assert_eq!(v2["user_keys"], json!([user.public().as_str()]));
    assert_eq!((v2["owner_info"].clone(), v2["advertise"].clone()), (json!("kept"), json!(false)));
    assert_eq!(node.vessel("v4"), Value::Null);
    assert_eq!(node.vessel("v6")["status"], "Fresh");
    let v1 = node.wait_status("v1", "Started", Duration::from_secs(10));
    let new_pid = v1["pid"].as_u64().unwrap();
    assert_ne!(new_pid, old_pid);
    wait_for("the restarted program to print", Duration::from_secs(30), || {
        let log = log_of(&mut owner, "v1");
        (log.matches("running ['again']").count() == 2).then_some(())
    });
    assert!(log_of(&mut owner, "v1").contains("restarting loop.py again"));
    // Sequence numbers survived: the old request is still a replay.
    assert_eq!(owner.roundtrip(&replayable).unwrap()["error"]["code"], "Replay");
    // The state is readable by status, and a graceful stop keeps the vessel Started for next time.
    node.terminate();
    let (ok, text, _) = repy_cli(&["node", "status", "--dir", node.state().to_str().unwrap()]);
    assert!(ok && text.lines().any(|l| l.starts_with("v1 ") && l.contains("Started")), "{text}");
    assert!(!repy_portability::child::process_exists(new_pid as u32), "shutdown stopped the vessel");
    node.run();
    node.wait_status("v1", "Started", Duration::from_secs(10));
}

#[test]
fn cli_errors_name_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(repy_cli(&["keygen", "k", "--dir", d]).0);
    let (ok, _, err) = repy_cli(&["keygen", "k", "--dir", d]);
    assert!(!ok && err.contains("k.publickey") && err.contains("already exists"), "{err}");
    std::fs::write(dir.path().join("bad.publickey"), "nonsense\n").unwrap();
    let state = dir.path().join("st");
    let (ok, _, err) = repy_cli(&["node", "init", "--dir", state.to_str().unwrap(), "--owner", &format!("{d}/bad.publickey")]);
    assert!(!ok && err.contains("bad.publickey") && err.contains("nonsense"), "{err}");
    let (ok, _, err) =
        repy_cli(&["node", "init", "--dir", state.to_str().unwrap(), "--owner", &format!("{d}/k.publickey"), "--ports", "9-3"]);
    assert!(!ok && err.contains("--ports '9-3'"), "{err}");
    let (ok, _, err) = repy_cli(&[
        "node",
        "init",
        "--dir",
        state.to_str().unwrap(),
        "--owner",
        &format!("{d}/k.publickey"),
        "--vessels",
        "200",
        "--cpu",
        "0.1",
        "--memory",
        "1000000000",
        "--disk",
        "1000000000",
    ]);
    assert!(!ok && err.contains("cpu"), "{err}");
    let args = [
        "node",
        "init",
        "--dir",
        state.to_str().unwrap(),
        "--owner",
        &format!("{d}/k.publickey"),
        "--memory",
        "1000000000",
        "--disk",
        "1000000000",
    ];
    assert!(repy_cli(&args).0);
    let (ok, _, err) = repy_cli(&args);
    assert!(!ok && err.contains("not empty"), "{err}");
    // A broken configuration or a missing table refuses to start, naming the file.
    let toml = state.join("node.toml");
    std::fs::write(&toml, std::fs::read_to_string(&toml).unwrap() + "colour = \"blue\"\n").unwrap();
    let (ok, _, err) = repy_cli(&["node", "run", "--dir", state.to_str().unwrap()]);
    assert!(!ok && err.contains("node.toml") && err.contains("colour"), "{err}");
    let (ok, _, err) = repy_cli(&["node", "run", "--dir", &format!("{d}/nowhere")]);
    assert!(!ok && err.contains("nowhere"), "{err}");
    let (ok, out, _) = repy_cli(&["node", "--help"]);
    assert!(ok && out.contains("call") && out.contains("ReadVesselLog"), "{out}");
}

/// `repy node call` parses the request as the node would: a bad call or argument is reported,
/// naming it, before any connection (nothing listens on the port).
#[test]
fn node_call_checks_the_request_before_sending() {
    let addr = format!("127.0.0.1:{}", free_port());
    let call = |args: &[&str]| {
        let (ok, _, err) = repy_cli(&[&["node", "call", "--node", addr.as_str()][..], args].concat());
        assert!(!ok && !err.contains("cannot connect"), "{err}");
        err
    };
    let err = call(&["StopVessel", "vessel=v1", "force=true"]);
    assert!(err.contains("arguments of StopVessel") && err.contains("force"), "{err}");
    let err = call(&["FormatDisk"]);
    assert!(err.contains("unknown call 'FormatDisk'"), "{err}");
    let err = call(&["StartVessel", "vessel=v1"]);
    assert!(err.contains("arguments of StartVessel") && err.contains("args"), "{err}");
    let err = call(&["ChangeAdvertise", "vessel=v1", "advertise=maybe"]);
    assert!(err.contains("arguments of ChangeAdvertise: field 'advertise'"), "{err}");
    let err = call(&["StopVessel", "vessel=v1", "vessel=v2"]);
    assert!(err.contains("argument 'vessel' is given twice"), "{err}");
    let err = call(&["StopVessel", r#"{"vessel": "v1", "vessel": "v2"}"#]);
    assert!(err.contains("duplicate key 'vessel'"), "{err}");
    // A well-formed request is sent: the failure is now the connection's.
    let (ok, _, err) = repy_cli(&["node", "call", "--node", &addr, "GetVessels"]);
    assert!(!ok && err.contains("cannot connect"), "{err}");
}

/// Not a user-visible path, only a check that the file layout of §7 exists after init.
#[test]
fn init_creates_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(repy_cli(&["keygen", "k", "--dir", d]).0);
    let state = dir.path().join("st");
    assert!(
        repy_cli(&[
            "node",
            "init",
            "--dir",
            state.to_str().unwrap(),
            "--owner",
            &format!("{d}/k.publickey"),
            "--vessels",
            "2",
            "--memory",
            "1000000000",
            "--disk",
            "1000000000"
        ])
        .0
    );
    for f in [
        "node.toml",
        "node.key",
        "state.json",
        "seq.json",
        "offcut.restrictions",
        "donation.json",
        "resources/v1.restrictions",
        "resources/v2.restrictions",
        "vessels/v1",
        "logs",
        "tmp",
    ] {
        assert!(Path::new(&state.join(f)).exists(), "{f} missing");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(state.join("node.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (ok, text, _) = repy_cli(&["node", "status", "--dir", state.to_str().unwrap()]);
    assert!(ok && text.lines().filter(|l| l.contains("Fresh")).count() == 2, "{text}");
}

#[test]
fn connection_limit_rate_limit_and_idle_timeout() {
    let node = Node::start("max_connections = 2\nidle_timeout_s = 1\nmax_requests_per_s = 5");
    // Two connections that made a request signed by a key with a role keep their slots; a
    // third gets Busy and is closed. (The start-up probe's connection counts until the server
    // reads its end, so the first pair may need a retry.)
    let (_a, _b) = wait_for("two connections to be served", Duration::from_secs(10), || {
        let mut a = node.owner();
        let mut b = node.owner();
        a.call("ListFilesInVessel", json!({"vessel": "v1"})).ok()?;
        b.call("ListFilesInVessel", json!({"vessel": "v1"})).ok()?;
        Some((a, b))
    });
    let mut third = TcpStream::connect(&node.addr).unwrap();
    let response = read_response(&mut third);
    assert_eq!(response["error"]["code"], "Busy", "{response}");
    assert!(response["error"]["message"].as_str().unwrap().contains("at most 2"), "{response}");
    assert_eq!(third.read(&mut [0u8; 1]).unwrap(), 0);

    drop((_a, _b));

    // More than 5 requests in a burst from one address: the excess gets Busy, and after a
    // pause requests are served again.
    let mut c = wait_for("a free connection slot", Duration::from_secs(10), || {
        let mut c = Client::connect(&node.addr).ok()?;
        c.call("GetOffcutResources", json!({})).ok().map(|_| c)
    });
    let refused = (0..30).filter(|_| c.call("GetOffcutResources", json!({})).err().and_then(|e| e.code()) == Some(Code::Busy)).count();
    assert!(refused >= 10, "only {refused} of 30 requests were refused");
    std::thread::sleep(Duration::from_millis(1200));
    // (`c` itself was idle for a second and has been closed.)
    assert!(c.call("GetOffcutResources", json!({})).is_err());
    node.client(None).call("GetOffcutResources", json!({})).unwrap();
    // The idle timeout closes a silent connection.
    let mut silent = TcpStream::connect(&node.addr).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let n = silent.read(&mut [0u8; 16]).unwrap_or(0);
    assert_eq!(n, 0, "an idle connection is closed without a response");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_vessel_that_cannot_be_restarted_becomes_stale() {
    let mut node = Node::start("");
    let mut owner = node.owner();
    upload(&mut owner, "v1", "loop.py", LOOP_PROGRAM.as_bytes()).unwrap();
    owner.call("StartVessel", json!({"vessel": "v1", "args": ["loop.py"]})).unwrap();
    node.kill9();
    // The configured binary is gone at the next start.
    let path = node.state().join("node.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace("repy = \"\"", "repy = \"/nonexistent/repy\"");
    std::fs::write(&path, text).unwrap();
    node.run();
    let v = node.vessel("v1");
    assert_eq!((v["status"].clone(), v["pid"].clone()), (json!("Stale"), Value::Null));
    assert!(node.log().contains("v1 could not be restarted"), "{}", node.log());
    // Starting it again reports the failure without details, which go to the log.
    let mut owner = node.owner();
    let (c, m) = refusal(owner.call("StartVessel", json!({"vessel": "v1", "args": ["loop.py"]})));
    assert_eq!(c, Code::Internal);
    assert!(!m.contains("nonexistent"), "{m}");
    assert!(node.log().contains("/nonexistent/repy"));
    assert_eq!(node.vessel("v1")["status"], "Stale");
    // A second node manager on the same state directory is refused while this one runs.
    let (ok, _, err) = repy_cli(&["node", "run", "--dir", node.state().to_str().unwrap()]);
    assert!(!ok && err.contains("in use"), "{err}");
}

/// The identity point and the all-zero key (orders 1 and 4), with the signature (R = identity,
/// S = 0) that "verifies" any message for the identity key under a lax check.
const IDENTITY_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
};
const ZERO_KEY: [u8; 32] = [0u8; 32];

#[test]
fn weak_keys_can_neither_sign_nor_own_nor_use_a_vessel() {
    let node = Node::start("");
    let mut owner = node.owner();
    let node_key = owner.node_key().unwrap();

    // A request "signed" by a small-order key writes nothing.
    let inner = json!({"call": "AddFileToVessel", "args": {"vessel": "v1", "filename": "planted.py", "data": STANDARD.encode("x")},
        "node": node_key.as_str(), "seq": owner.next_seq(), "expires": unix_now() + 60});
    let signed = serde_json::to_vec(&inner).unwrap();
    let mut forged = [0u8; 64];
    forged[..32].copy_from_slice(&IDENTITY_KEY);
    for key in [IDENTITY_KEY, ZERO_KEY] {
        let req = json!({"v": 1, "key": STANDARD.encode(key), "signed": STANDARD.encode(&signed), "sig": STANDARD.encode(forged)});
        let response = owner.roundtrip(&req).unwrap();
        assert_eq!(response["error"]["code"], "BadKey", "{response}");
        let message = response["error"]["message"].as_str().unwrap();
        assert!(message.contains("field 'key'") && message.contains("weak"), "{message}");
    }
    assert!(files(&mut owner, "v1").is_empty());

    // Nor can such a key become an owner or a user.
    let good = SecretKey::generate().public();
    for weak in [ZERO_KEY, IDENTITY_KEY] {
        let text = STANDARD.encode(weak);
        let (c, m) = refusal(owner.call("ChangeOwner", json!({"vessel": "v1", "owner_key": text})));
        assert!(c == Code::BadKey && m.contains("field 'owner_key'") && m.contains(&text), "{c}: {m}");
        let (c, m) = refusal(owner.call("ChangeUsers", json!({"vessel": "v1", "user_keys": [good.as_str(), text]})));
        assert!(c == Code::BadKey && m.contains("field 'user_keys[1]'") && m.contains(&text), "{c}: {m}");
    }
    let v1 = node.vessel("v1");
    assert_eq!(v1["owner_key"], node.key("owner").public().as_str());
    assert_eq!(v1["user_keys"], json!([]));

    // Nor the owner of a new node.
    let weak_file = node.dir.path().join("weak.publickey");
    std::fs::write(&weak_file, format!("{}\n", STANDARD.encode(IDENTITY_KEY))).unwrap();
    let state = node.dir.path().join("state2");
    let (ok, _, err) = repy_cli(&["node", "init", "--dir", state.to_str().unwrap(), "--owner", weak_file.to_str().unwrap()]);
    assert!(!ok && err.contains("weak.publickey") && err.contains("weak public key"), "{err}");
}

#[test]
fn a_key_given_twice_is_refused_in_the_envelope_and_the_signed_part() {
    let node = Node::start("");
    let mut owner = node.owner();
    let node_key = owner.node_key().unwrap();
    upload(&mut owner, "v1", "keep.py", b"pass\n").unwrap();
    upload(&mut owner, "v2", "keep.py", b"pass\n").unwrap();

    // Signed as is: one reader keeping the first "vessel" and another the last would not agree.
    let secret = node.key("owner");
    let signed = format!(
        r#"{{"call": "DeleteFileInVessel", "args": {{"vessel": "v1", "filename": "keep.py", "vessel": "v2"}}, "node": "{node_key}", "seq": {}, "expires": {}}}"#,
        owner.next_seq(),
        unix_now() + 60
    );
    let mut message = b"repy-nodemanager-request-v1\n".to_vec();
    message.extend_from_slice(signed.as_bytes());
    let req = json!({"v": 1, "id": "dup1", "key": secret.public().as_str(), "signed": STANDARD.encode(&signed), "sig": STANDARD.encode(secret.sign(&message))});
    let response = owner.roundtrip(&req).unwrap();
    assert_eq!((response["id"].clone(), response["error"]["code"].clone()), (json!("dup1"), json!("BadFrame")), "{response}");
    assert!(response["error"]["message"].as_str().unwrap().contains("duplicate key 'vessel'"), "{response}");
    assert_eq!(files(&mut owner, "v1"), ["keep.py"]);
    assert_eq!(files(&mut owner, "v2"), ["keep.py"]);

    // The envelope: "call" twice (a public call first, then an owner call) closes the connection.
    let mut raw = TcpStream::connect(&node.addr).unwrap();
    raw.write_all(&frame::encode_bytes(br#"{"v": 1, "id": "dup2", "call": "GetVessels", "args": {}, "call": "ResetVessel"}"#)).unwrap();
    let response = read_response(&mut raw);
    assert_eq!(response["error"]["code"], "BadFrame", "{response}");
    assert!(response["error"]["message"].as_str().unwrap().contains("duplicate key 'call'"), "{response}");
    assert_eq!(raw.read(&mut [0u8; 1]).unwrap(), 0, "the connection is closed after a bad frame");
    assert!(node.client(None).call("GetVessels", json!({})).is_ok());
}

/// Unix only: making symbolic links on Windows needs a privilege.
#[cfg(unix)]
#[test]
fn a_symlink_planted_in_a_vessel_leads_nowhere() {
    let node = Node::start("");
    let mut owner = node.owner();
    let secret = node.dir.path().join("host-secret.txt");
    let content = "host secret 0xC0FFEE";
    std::fs::write(&secret, content).unwrap();
    let vessel_dir = node.state().join("vessels/v1");
    std::os::unix::fs::symlink(&secret, vessel_dir.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(node.state(), vessel_dir.join("linkdir")).unwrap();

    assert!(files(&mut owner, "v1").is_empty());
    for name in ["link.txt", "linkdir"] {
        let result = owner.call("RetrieveFileFromVessel", json!({"vessel": "v1", "filename": name}));
        let shown = format!("{result:?}");
        assert!(!shown.contains(&STANDARD.encode(content)) && !shown.contains(content), "{shown}");
        let (c, m) = refusal(result);
        assert!(c == Code::NoSuchFile && m.contains(name), "{c}: {m}");
        let (c, m) = refusal(owner.call("DeleteFileInVessel", json!({"vessel": "v1", "filename": name})));
        assert!(c == Code::NoSuchFile && m.contains(name), "{c}: {m}");
    }
    let (c, m) = refusal(owner.call("StartVessel", json!({"vessel": "v1", "args": ["link.txt"]})));
    assert!(c == Code::NoSuchFile && m.contains("link.txt"), "{c}: {m}");
    assert!(std::fs::symlink_metadata(vessel_dir.join("link.txt")).unwrap().file_type().is_symlink());

    // An upload of that name replaces the link itself, never writing through it.
    upload(&mut owner, "v1", "link.txt", b"mine").unwrap();
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), content);
    assert!(std::fs::symlink_metadata(vessel_dir.join("link.txt")).unwrap().is_file());
    let r = owner.call("RetrieveFileFromVessel", json!({"vessel": "v1", "filename": "link.txt"})).unwrap();
    assert_eq!(STANDARD.decode(r["data"].as_str().unwrap()).unwrap(), b"mine");
    assert_eq!(files(&mut owner, "v1"), ["link.txt"]);
    owner.call("DeleteFileInVessel", json!({"vessel": "v1", "filename": "link.txt"})).unwrap();
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), content);
}

#[test]
fn an_upload_of_the_largest_size_fits_and_one_byte_more_is_refused() {
    // The default configuration: max_file_bytes 8 MiB, and the frame limit derived from it.
    let node = Node::start("");
    let mut owner = node.owner();
    let limit = frame::DEFAULT_MAX_FILE_BYTES;
    assert_eq!(limit, 8 * 1024 * 1024);
    let data: Vec<u8> = (0..limit).map(|i| (i * 7 + i / 251) as u8).collect();
    upload(&mut owner, "v1", "largest.bin", &data).unwrap();
    let r = owner.call("RetrieveFileFromVessel", json!({"vessel": "v1", "filename": "largest.bin"})).unwrap();
    assert!(STANDARD.decode(r["data"].as_str().unwrap()).unwrap() == data, "the file comes back as sent");

    let mut over = data;
    over.push(0);
    let (c, m) = refusal(upload(&mut owner, "v1", "over.bin", &over));
    assert_eq!(c, Code::FileTooLarge, "{m}");
    assert!(m.contains("over.bin") && m.contains("8388609") && m.contains("8388608"), "{m}");
    assert_eq!(files(&mut owner, "v1"), ["largest.bin"]);
}

/// The attack of the hardening issue: idle connections that each sent one byte, reopened as
/// soon as the node closes them, from the same address as the honest client. Every one of 37
/// signed requests, each on a new connection (as `repy node call` makes them), is answered
/// within a few seconds, and the idle connections are the ones that give way.
#[test]
fn idle_connections_reopened_at_once_do_not_starve_signed_requests() {
    use std::sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    };
    let node = Node::start("");
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let made_room = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..40)
        .map(|_| {
            let (addr, stop, opened, made_room) = (node.addr.clone(), stop.clone(), opened.clone(), made_room.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut s) = TcpStream::connect(&addr) else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    opened.fetch_add(1, Ordering::SeqCst);
                    let _ = s.write_all(&[0]);
                    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
                    // Hold it until the node closes it.
                    let mut got = Vec::new();
                    let mut buf = [0u8; 512];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                                if stop.load(Ordering::SeqCst) {
                                    return;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    if String::from_utf8_lossy(&got).contains("to make room") {
                        made_room.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    // Let them fill the table (32 connections) and grow old.
    wait_for("the idle connections", Duration::from_secs(10), || (opened.load(Ordering::SeqCst) >= 40).then_some(()));
    std::thread::sleep(Duration::from_millis(1500));

    let mut slowest = Duration::ZERO;
    for i in 0..37 {
        let start = Instant::now();
        let mut client = Client::connect(&node.addr).unwrap().with_key(node.key("owner"));
        client.set_timeout(Duration::from_secs(10));
        let result = client.call("ListFilesInVessel", json!({"vessel": "v1"}));
        let took = start.elapsed();
        assert!(result.is_ok(), "signed request {i} of 37 was not answered: {result:?} after {took:?}");
        assert!(took < Duration::from_secs(5), "signed request {i} took {took:?}");
        slowest = slowest.max(took);
    }
    stop.store(true, Ordering::SeqCst);
    for a in attackers {
        a.join().unwrap();
    }
    let made_room = made_room.load(Ordering::SeqCst);
    assert!(made_room >= 37, "the table was full: idle connections made room {made_room} times");
    eprintln!("37 signed requests answered, slowest {slowest:?}; idle connections opened {opened:?}, made room {made_room}");
}

/// The other attack of the hardening issue: signed public calls from throw-away keys. They
/// neither rewrite nor grow `seq.json` (its inode, size and time stay the same), while
/// replays are refused as before: a throw-away key's request, kept in memory, and a role
/// key's, across a SIGKILL. A throw-away key's refused request stays refused after a restart
/// even once the key is given a role.
#[test]
fn throwaway_keys_leave_seq_json_alone_and_replays_are_still_refused() {
    let mut node = Node::start("max_requests_per_s = 1000000");
    let mut owner = node.owner();
    let replayable = {
        let seq = owner.next_seq();
        let req = owner.signed_request("ChangeOwnerInformation", json!({"vessel": "v2", "info": "once"}), seq, unix_now() + 600).unwrap();
        assert_eq!(owner.roundtrip(&req).unwrap()["ok"], true);
        req
    };
    let node_key = owner.node_key().unwrap();
    let seq_json = node.state().join("seq.json");
    let stamp = |m: std::fs::Metadata| (m.len(), m.modified().unwrap());
    let before = stamp(std::fs::metadata(&seq_json).unwrap());

    // 4 connections, 1000 keys each, one signed public call per key.
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, node_key) = (node.addr.clone(), node_key.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(&addr).unwrap();
                let mut kept = None;
                for i in 0..1000 {
                    let key = SecretKey::generate();
                    let req =
                        request::sign(&key, &node_key, &format!("t{w}-{i}"), "GetVessels", json!({}), unix_micros(), unix_now() + 3600);
                    let response = c.roundtrip(&req).unwrap();
                    assert_eq!(response["ok"], true, "{response}");
                    kept.get_or_insert(req);
                }
                kept.unwrap()
            })
        })
        .collect();
    let samples: Vec<Value> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(stamp(std::fs::metadata(&seq_json).unwrap()), before, "seq.json was rewritten for keys without a role");
    for req in &samples {
        assert_eq!(owner.roundtrip(req).unwrap()["error"]["code"], "Replay");
    }

    // A throw-away key's request for a vessel it may not touch is refused...
    let stranger = node.new_key("stranger");
    let mut as_stranger = node.client(Some(stranger));
    let seq = as_stranger.next_seq();
    let planted = as_stranger
        .signed_request(
            "AddFileToVessel",
            json!({"vessel": "v1", "filename": "planted.py", "data": STANDARD.encode("x")}),
            seq,
            unix_now() + 600,
        )
        .unwrap();
    assert_eq!(as_stranger.roundtrip(&planted).unwrap()["error"]["code"], "Forbidden");
    // ...and after a SIGKILL, and the key being made a user of v1, a replay of it is still refused.
    node.kill9();
    node.run();
    let mut owner = node.owner();
    owner.call("ChangeUsers", json!({"vessel": "v1", "user_keys": [node.key("stranger").public().as_str()]})).unwrap();
    let response = owner.roundtrip(&planted).unwrap();
    assert_eq!(response["error"]["code"], "Replay", "{response}");
    assert!(files(&mut owner, "v1").is_empty(), "the replayed upload ran");
    // The key itself works (the client retries above the number the Replay names).
    upload(&mut node.client(Some(node.key("stranger"))), "v1", "mine.py", b"x").unwrap();
    assert_eq!(files(&mut owner, "v1"), ["mine.py"]);
    // The owner's request is still a replay, and seq.json holds the two keys with a role.
    assert_eq!(owner.roundtrip(&replayable).unwrap()["error"]["code"], "Replay");
    let table: Value = serde_json::from_slice(&std::fs::read(&seq_json).unwrap()).unwrap();
    assert_eq!(table["keys"].as_object().unwrap().len(), 2, "{table}");
}
