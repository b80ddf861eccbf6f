//! `repy testbed` and `repy fleet` end to end: real node managers on loopback, the
//! all-pairs ping example on five vessels, a node manager killed mid-way, JSON output and
//! usage errors. Every testbed is stopped by a Drop guard, even when an assertion fails.

use std::{
    path::Path,
    process::Output,
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD, Engine};
use repy_nodemanager::{frame, keys::SecretKey};
use serde_json::{json, Value};

mod common;
use common::testbed::{processes_under, run, text, Testbed};

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name).display().to_string()
}

fn ok_or_show(out: &Output, what: &str) {
    assert!(out.status.success(), "{what} failed ({:?}):\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
}

/// The five vessels ping each other (and themselves), every log shows a round-trip time to all
/// five, the page shows the matrix; a killed node manager is reported unreachable by name while
/// the others answer; `testbed down` leaves no process.
#[test]
fn allpairsping_on_five_nodes_and_a_node_that_dies() {
    let bed = Testbed::up(5, 1, "61000-62499");
    ok_or_show(&bed.fleet(&["upload", &example("allpairsping.py")]), "upload");
    let (out, started) = bed.fleet_json(&["start", "allpairsping.py", "{ip}:{port}", "{connport}", "{peers}"]);
    ok_or_show(&out, "start");
    let results = started["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{started}");
    // Every vessel got its own address, its TCP port and the same five peers.
    let me: Vec<String> = results.iter().map(|r| r["args"][1].as_str().unwrap().to_string()).collect();
    for r in results {
        let peers: Vec<&str> = r["args"].as_array().unwrap()[3..].iter().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(peers, me.iter().map(String::as_str).collect::<Vec<_>>(), "{r}");
    }

    // Each log holds `rtt PEER MS ms` for all five peers (itself included).
    let deadline = Instant::now() + Duration::from_secs(40);
    let logs = loop {
        let (out, doc) = bed.fleet_json(&["log"]);
        let logs: Vec<(String, String)> = doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (format!("{}/{}", r["node"].as_str().unwrap(), r["vessel"]), r["log"].as_str().unwrap_or("").to_string()))
            .collect();
        let complete = out.status.success()
            && logs.len() == 5
            && logs.iter().all(|(_, log)| me.iter().all(|peer| log.contains(&format!("rtt {peer} "))));
        if complete {
            break logs;
        }
        assert!(Instant::now() < deadline, "not every vessel measured every peer within 40 s:\n{logs:#?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    for (place, log) in &logs {
        let line = log.lines().find(|l| l.starts_with("rtt ")).unwrap();
        let ms: f64 = line.split(' ').nth(2).unwrap().parse().unwrap_or_else(|_| panic!("{place}: bad line '{line}'"));
        assert!((0.0..5000.0).contains(&ms), "{place}: {line}");
    }

    // The text form prefixes every line with node/vessel.
    let out = bed.fleet(&["log"]);
    ok_or_show(&out, "log");
    let stdout = text(&out.stdout);
    for node in &bed.nodes {
        assert!(stdout.contains(&format!("{node}/v1: rtt ")), "{stdout}");
    }

    // The page of the first vessel shows a row and a column for every vessel.
    let connport = results[0]["args"][2].as_str().unwrap();
    let page = http_get(&format!("127.0.0.1:{connport}"));
    assert!(page.starts_with("HTTP/1.0 200 OK"), "{page}");
    for peer in &me {
        assert!(page.contains(&format!("<th>{peer}</th>")), "{peer} missing from the page:\n{page}");
    }

    // Kill the third node manager: its vessel dies with it; the others still answer.
    let dead = bed.nodes[2].clone();
    repy_portability::child::signal_process(bed.pid(3), repy_portability::child::Signal::Kill).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&dead).is_ok() {
        assert!(Instant::now() < deadline, "{dead} still accepts connections 10 s after SIGKILL");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = bed.fleet(&["log"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.contains(&format!("{dead}: error: unreachable: cannot connect to {dead}")), "{stderr}");
    assert!(stderr.contains(&format!("1 node failed: {dead}")), "{stderr}");
    for node in bed.nodes.iter().filter(|n| **n != dead) {
        assert!(stdout.contains(&format!("{node}/v1: rtt ")), "{node} missing:\n{stdout}");
    }
    let (out, doc) = bed.fleet_json(&["log"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["ok"], false);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{doc}");
    assert_eq!(results.iter().filter(|r| r["ok"] == true).count(), 4, "{doc}");
    let failed = &results[2];
    assert_eq!((failed["node"].as_str(), &failed["vessel"], &failed["ok"]), (Some(dead.as_str()), &Value::Null, &Value::Bool(false)));
    assert!(failed["error"].as_str().unwrap().starts_with("unreachable:"), "{failed}");

    // down stops every node manager and vessel.
    let out = run(&["testbed", "down", "--dir", &bed.path().display().to_string()]);
    ok_or_show(&out, "testbed down");
    assert!(text(&out.stdout).contains("stopped 4 of 5 node managers"), "{}", text(&out.stdout));
    let left = processes_under(bed.path());
    assert!(left.is_empty(), "processes left after testbed down: {left:#?}");
}

fn http_get(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).unwrap();
    page
}

/// browse/run/list/download/reset with --json on two nodes of two vessels, an unreachable node in
/// the list, a key that may use nothing, and a user key given one vessel.
#[test]
fn json_results_unreachable_nodes_and_user_keys() {
    let bed = Testbed::up(2, 2, "62500-62999");
    let (out, doc) = bed.fleet_json(&["browse"]);
    ok_or_show(&out, "browse");
    assert_eq!(doc["command"], "browse");
    assert_eq!(doc["ok"], true);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{doc}");
    for r in results {
        assert_eq!((r["status"].as_str(), r["role"].as_str(), r["ok"].as_bool()), (Some("Fresh"), Some("owner"), Some(true)), "{r}");
        assert!(r["messport"].as_str().unwrap().contains('-'), "{r}");
    }

    // run: placeholders are per vessel; the log of each vessel comes back.
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("where.py");
    std::fs::write(&program, "if callfunc == 'initialize':\n    print('at', callargs[0], callargs[1])\n").unwrap();
    let program = program.display().to_string();
    let (out, doc) = bed.fleet_json(&["run", "--timeout", "60", &program, "{node}/{vessel}", "{port}"]);
    ok_or_show(&out, "run");
    for r in doc["results"].as_array().unwrap() {
        let (node, vessel) = (r["node"].as_str().unwrap(), r["vessel"].as_str().unwrap());
        assert!(r["log"].as_str().unwrap().starts_with(&format!("at {node}/{vessel} ")), "{r}");
        assert_eq!(r["last_exit"]["code"], 0, "{r}");
    }
    // A failing program makes run fail, with the reason.
    std::fs::write(dir.path().join("fail.py"), "if callfunc == 'initialize':\n    raise ValueError('boom')\n").unwrap();
    let out = bed.fleet(&["run", &dir.path().join("fail.py").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("program ended with status Terminated (exit status 1): ValueError: boom"), "{}", text(&out.stderr));
    // A program that does not end is stopped at the timeout and counts as failed.
    std::fs::write(dir.path().join("forever.py"), "if callfunc == 'initialize':\n    while True:\n        sleep(0.1)\n").unwrap();
    let out = bed.fleet(&["run", "--timeout", "3", &dir.path().join("forever.py").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("still running after 3 s: stopped it"), "{}", text(&out.stderr));

    let (out, doc) = bed.fleet_json(&["list"]);
    ok_or_show(&out, "list");
    assert_eq!(doc["results"][0]["files"], serde_json::json!(["fail.py", "forever.py", "where.py"]));
    let to = dir.path().join("got");
    let out = bed.fleet(&["download", "where.py", "--to", &to.display().to_string()]);
    ok_or_show(&out, "download");
    let first = to.join(format!("{}_v1", bed.nodes[0].replace(':', "_"))).join("where.py");
    assert_eq!(std::fs::read_to_string(&first).unwrap(), std::fs::read_to_string(&program).unwrap());
    let out = bed.fleet(&["download", "nothere.py", "--to", &to.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("RetrieveFileFromVessel refused: NoSuchFile"), "{}", text(&out.stderr));
    ok_or_show(&bed.fleet(&["reset"]), "reset");
    let (_, doc) = bed.fleet_json(&["list"]);
    assert!(doc["results"].as_array().unwrap().iter().all(|r| r["files"] == serde_json::json!([])), "{doc}");

    // An unreachable node in the list is one result with the reason; the others still count.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let nodes = dir.path().join("nodes.txt");
    std::fs::write(&nodes, format!("{}\n{nobody}\n{}\n", bed.nodes[0], bed.nodes[1])).unwrap();
    let out = run(&["fleet", "--key", &bed.key(), "--nodes", &nodes.display().to_string(), "--json", "browse"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{doc}");
    assert_eq!(results[2]["node"], nobody.as_str());
    assert!(results[2]["error"].as_str().unwrap().contains(&format!("unreachable: cannot connect to {nobody}")), "{doc}");

    // A node that accepts connections but never answers is given up after --node-timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    std::fs::write(&nodes, format!("{silent_addr}\n{}\n", bed.nodes[0])).unwrap();
    let started = Instant::now();
    let out = run(&["fleet", "--key", &bed.key(), "--nodes", &nodes.display().to_string(), "--node-timeout", "1", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("{silent_addr}: error: unreachable: no answer from {silent_addr} within 1 s")), "{stderr}");
    assert!(text(&out.stdout).contains(&format!("{}/v1  (no files)", bed.nodes[0])), "{}", text(&out.stdout));
    drop(silent);

    // A key with no vessel is told so; once given a vessel as a user key it sees just that one.
    let keys = dir.path().display().to_string();
    ok_or_show(&run(&["keygen", "bob", "--dir", &keys]), "keygen");
    let bob = dir.path().join("bob").display().to_string();
    let out = run(&["fleet", "--key", &bob, "--nodes", &bed.nodes_file(), "browse"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("may use no vessel on this node"), "{}", text(&out.stderr));
    let bob_public = std::fs::read_to_string(dir.path().join("bob.publickey")).unwrap();
    let users = format!("user_keys=[\"{}\"]", bob_public.trim());
    let out = run(&["node", "call", "--key", &bed.key(), "--node", &bed.nodes[1], "ChangeUsers", "vessel=v2", &users]);
    ok_or_show(&out, "ChangeUsers");
    let only_second = dir.path().join("second.txt");
    std::fs::write(&only_second, format!("{}\n", bed.nodes[1])).unwrap();
    let out = run(&["fleet", "--key", &bob, "--nodes", &only_second.display().to_string(), "browse"]);
    ok_or_show(&out, "browse as user");
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("{}/v2  Fresh      user", bed.nodes[1])), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[test]
fn usage_errors_name_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nodes = d.join("nodes.txt");
    std::fs::write(&nodes, "127.0.0.1:1224\n\n# comment\n127.0.0.1\n").unwrap();
    let key = d.join("alice").display().to_string();
    let nodes_arg = nodes.display().to_string();

    let out = run(&["fleet", "--key", &key, "--nodes", &nodes_arg, "browse"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("private key file '{key}.privatekey' not found")), "{}", text(&out.stderr));

    ok_or_show(&run(&["keygen", "alice", "--dir", &d.display().to_string()]), "keygen");
    let out = run(&["fleet", "--key", &key, "--nodes", &nodes_arg, "browse"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("{nodes_arg}:4: '127.0.0.1' is not a node address: no ':PORT'")), "{stderr}");

    let missing = d.join("none.txt").display().to_string();
    let out = run(&["fleet", "--key", &key, "--nodes", &missing, "browse"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("cannot read nodes file '{missing}'")), "{}", text(&out.stderr));

    std::fs::write(&nodes, "127.0.0.1:1224\n").unwrap();
    let out = run(&["fleet", "--key", &key, "--nodes", &nodes_arg, "upload", &d.join("Bad Name.py").display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Bad Name.py': file name 'Bad Name.py' contains 'B'"), "{}", text(&out.stderr));

    let out = run(&["testbed", "down", "--dir", &d.join("nothing").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no testbed in"), "{}", text(&out.stderr));
    let out = run(&["testbed", "up", "--nodes", "0", "--dir", &d.join("tb").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--nodes must be at least 1"), "{}", text(&out.stderr));
    let tb = d.join("short-ttl");
    let out = run(&["testbed", "up", "--nodes", "2", "--dir", &tb.display().to_string(), "--advertise-ttl", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--advertise-ttl 1: an announcement must last at least 2 s"), "{}", text(&out.stderr));
    assert!(!tb.join("node1").exists(), "no node is made for a refused testbed");
}

/// A hostile "node manager" on loopback: GetVessels lists one vessel of the key `me` under
/// `vessel_name`; any other request gets a file. Returns its address.
fn hostile_node(me: String, vessel_name: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let node_key = SecretKey::generate().public().as_str().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (me, vessel_name, node_key) = (me.clone(), vessel_name.clone(), node_key.clone());
            std::thread::spawn(move || {
                use std::io::Write;
                while let Ok(body) = frame::read_frame_blocking(&mut stream, 1 << 24) {
                    let request: Value = serde_json::from_slice(&body).unwrap();
                    let call = match request["signed"].as_str() {
                        Some(signed) => serde_json::from_slice::<Value>(&STANDARD.decode(signed).unwrap()).unwrap()["call"].clone(),
                        None => request["call"].clone(),
                    };
                    let result = match call.as_str().unwrap_or("") {
                        "GetVessels" => json!({"node": {"name": "evil", "key": node_key, "version": "0.1.0"},
                            "vessels": [{"name": vessel_name, "owner_key": me, "user_keys": [], "status": "Fresh",
                                "advertise": true, "owner_info": "", "last_exit": null}]}),
                        "GetVesselResources" => json!({"resources": "resource cpu 0.1\n"}),
                        _ => json!({"data": STANDARD.encode("written by a hostile node\n")}),
                    };
                    let response = json!({"v": 1, "id": request["id"], "ok": true, "result": result});
                    if stream.write_all(&frame::encode(&response)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Every file under `dir`, recursively (symbolic links not followed).
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            found.extend(files_under(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}

#[test]
fn a_hostile_node_cannot_choose_where_download_writes() {
    let bed = Testbed::up(1, 1, "60500-60999");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("out.txt");
    std::fs::write(&file, "from the real node\n").unwrap();
    ok_or_show(&bed.fleet(&["upload", &file.display().to_string()]), "upload");

    let me = std::fs::read_to_string(bed.path().join("testbed.publickey")).unwrap().trim().to_string();
    let to = work.path().join("downloads");
    // Relative to the vessel's directory under --to, and absolute (climbing to / first).
    let climbing = format!("v1/{}{}/abs", "../".repeat(40), work.path().display());
    let hostile = [hostile_node(me.clone(), "v1/../../escaped".into()), hostile_node(me, climbing)];
    let nodes = work.path().join("nodes.txt");
    std::fs::write(&nodes, format!("{}\n{}\n{}\n", hostile[0], bed.nodes[0], hostile[1])).unwrap();
    let (key, nodes) = (bed.key(), nodes.display().to_string());
    let out = run(&["fleet", "--key", &key, "--nodes", &nodes, "--json", "download", "out.txt", "--to", &to.display().to_string()]);
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)));
    assert!(!out.status.success(), "{doc}");

    // The real node's file is saved; each hostile node is reported by address and bad name.
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{doc}");
    let real = results.iter().find(|r| r["node"] == bed.nodes[0].as_str()).unwrap();
    assert_eq!(real["ok"], true, "{real}");
    let saved = to.join(format!("{}_v1", bed.nodes[0].replace(':', "_"))).join("out.txt");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "from the real node\n");
    for addr in &hostile {
        let r = results.iter().find(|r| r["node"] == addr.as_str()).unwrap();
        let error = r["error"].as_str().unwrap();
        assert!(r["ok"] == false && r["vessel"].is_null(), "{r}");
        assert!(error.contains("bad name") && error.contains("'v1/../.."), "{error}");
    }
    // Nothing anywhere but that one file.
    let found: std::collections::BTreeSet<_> = files_under(work.path()).into_iter().collect();
    let expected: std::collections::BTreeSet<_> = [file.clone(), work.path().join("nodes.txt"), saved].into_iter().collect();
    assert_eq!(found, expected);
    assert!(!work.path().join("escaped").exists() && !work.path().join("abs").exists());
}
