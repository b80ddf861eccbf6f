//! The documentation is checked against the code: `docs/api.md` documents every function the
//! API exposes with the parameter names the code accepts, and every program in
//! `docs/tutorial.md` is a file under `examples/` that runs as the tutorial says.

mod common;

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{
    repy, repy_in,
    testbed::{text, Testbed},
    Run,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// The README's first set-up command is `./x run --release -- run examples/hello.py`: cargo
/// must know which of the package's binaries that means (it refuses to guess), and the
/// example must run.
#[test]
fn the_readme_run_command_runs_repy() {
    let readme = read("README.md");
    let command = "./x run --release -- run examples/hello.py";
    assert!(readme.contains(command), "README no longer shows `{command}`");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let metadata = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(metadata.status.success(), "{}", String::from_utf8_lossy(&metadata.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout).unwrap();
    let package = metadata["packages"].as_array().unwrap().iter().find(|p| p["name"] == "repy").unwrap();
    let binaries: Vec<&str> = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let runs = match package["default_run"].as_str() {
        Some(name) => name,
        None if binaries.len() == 1 => binaries[0],
        None => panic!("`cargo run` cannot choose among the binaries {binaries:?}: set default-run"),
    };
    assert_eq!(runs, "repy", "`cargo run` would run {runs}");
    let run = repy_in(&root(), &["run", "examples/hello.py"]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("Hello, world!\n"), "{run:?}");
}

/// `./x`, which both README commands go through, runs a cargo at least as new as the
/// workspace's rust-version (whatever cargo is first on PATH).
#[test]
fn the_entry_script_finds_a_new_enough_cargo() {
    let manifest = read("Cargo.toml");
    let needed = manifest.lines().find_map(|l| l.strip_prefix("rust-version = \"")).unwrap().trim_end_matches('"');
    let output = Command::new(root().join("x")).arg("--version").current_dir(root()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let found = text.split_whitespace().nth(1).unwrap_or_else(|| panic!("no version in {text:?}"));
    let version = |v: &str| v.split('.').take(2).map(|n| n.parse::<u32>().unwrap()).collect::<Vec<_>>();
    assert!(version(found) >= version(needed), "./x runs cargo {found}, the workspace needs {needed}");
}

/// The fenced code blocks of a Markdown text: (language, text with a final newline).
fn code_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) => current = Some((lang.trim().to_owned(), String::new())),
            (Some(_), Some("")) => blocks.push(current.take().unwrap()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "unclosed code block");
    blocks
}

/// `### `name(params)`` headings of api.md: name → parameter names (without `*` ones).
fn documented_signatures(api: &str, prefix: &str) -> Vec<(String, Vec<String>)> {
    api.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|l| {
            let (name, rest) = l.split_once('(')?;
            let params = rest.split_once(")`")?.0;
            let params = params
                .split(',')
                .map(|p| p.trim().split('=').next().unwrap().trim().to_owned())
                .filter(|p| !p.is_empty() && !p.starts_with('*'))
                .collect();
            Some((name.to_owned(), params))
        })
        .collect()
}

#[test]
fn every_exposed_function_is_documented_in_api_md() {
    let api = read("docs/api.md");
    let documented: BTreeSet<String> = documented_signatures(&api, "### `").into_iter().map(|(n, _)| n).collect();
    let missing: Vec<&str> = repy_api::exposed_names().filter(|n| !documented.contains(*n)).collect();
    assert!(missing.is_empty(), "docs/api.md has no '### `NAME(...)`' heading for {missing:?}");
    // Every object method and SafeDict too.
    let methods = [
        "file.close",
        "file.flush",
        "file.read",
        "file.readline",
        "file.readlines",
        "file.next",
        "file.seek",
        "file.write",
        "file.writelines",
        "lock.acquire",
        "lock.release",
        "socket.send",
        "socket.recv",
        "socket.close",
        "socket.willblock",
        "virtualnamespace.evaluate",
    ];
    for method in methods {
        assert!(api.contains(&format!("#### `{method}(")), "docs/api.md does not document {method}");
    }
    assert!(documented.contains("SafeDict"), "docs/api.md does not document SafeDict");
    // Every exception class of repy-api.md §5 appears in the table.
    for class in [
        "RepyArgumentError",
        "CodeUnsafeError",
        "SafetyViolationError",
        "ContextUnsafeError",
        "ResourceExhaustedError",
        "ResourceForbiddenError",
        "FileNotFoundError",
        "FileInUseError",
        "FileClosedError",
        "LockDoubleReleaseError",
        "TimeoutError",
        "NetworkAddressError",
        "AddressBindingError",
        "DuplicateTupleError",
        "InternetConnectivityError",
        "ConnectionRefusedError",
        "SocketClosedLocal",
        "SocketClosedRemote",
    ] {
        assert!(api.contains(&format!("| `{class}` |")), "docs/api.md has no row for {class}");
    }
}

/// Each API function's declared signature (its binding) is the one docs/api.md gives: the
/// same parameters in the same order, those without a default required, and a doc line.
#[test]
fn declared_signatures_are_the_documented_ones() {
    let api = read("docs/api.md");
    let headings: Vec<&str> = api.lines().filter_map(|l| l.strip_prefix("### `")).collect();
    for function in repy_api::functions() {
        let heading = headings
            .iter()
            .find(|h| h.split_once('(').is_some_and(|(name, _)| name == function.name))
            .unwrap_or_else(|| panic!("docs/api.md has no heading for {}", function.name));
        let params: Vec<&str> =
            heading.split_once('(').unwrap().1.split_once(")`").unwrap().0.split(", ").filter(|p| !p.is_empty()).collect();
        let params: Vec<&str> = params.into_iter().filter(|p| !p.starts_with('*')).collect();
        let names: Vec<&str> = params.iter().map(|p| p.split('=').next().unwrap()).collect();
        assert_eq!(names, function.params, "parameters of {}", function.name);
        let required = params.iter().take_while(|p| !p.contains('=')).count();
        assert_eq!(required, function.required, "required parameters of {}", function.name);
        assert!(!function.doc.trim().is_empty(), "{} has no doc line", function.name);
    }
}

/// Calls every documented function with each documented parameter as a keyword and with one
/// positional argument too many: the code must know each name and the documented count.
#[test]
fn documented_signatures_match_what_the_code_accepts() {
    let api = read("docs/api.md");
    let exposed: BTreeSet<&str> = repy_api::exposed_names().collect();
    let mut program = String::from("class Bad:\n    pass\n\ndef attempt(label, call):\n    try:\n        call()\n        print(label, 'returned')\n    except Exception as e:\n        print(label, 'raised', e)\n\nif callfunc == 'initialize':\n");
    let mut expected_arity = Vec::new();
    for (name, params) in documented_signatures(&api, "### `") {
        if !exposed.contains(name.as_str()) {
            continue;
        }
        for param in &params {
            program.push_str(&format!("    attempt('kw {name} {param}', lambda: {name}({param}=Bad()))\n"));
        }
        if name != "print" {
            let n = params.len();
            program.push_str(&format!("    attempt('arity {name}', lambda: {name}(*([Bad()] * {})))\n", n + 1));
            expected_arity.push((name.clone(), n));
        }
    }
    // Methods of files and locks.
    program.push_str(
        "    open('m.txt', 'w').close()\n    f = open('m.txt', 'r+')\n    lock = getlock()\n    vn = VirtualNamespace('x = 1')\n",
    );
    for (name, params) in documented_signatures(&api, "#### `") {
        let object = match name.split('.').next() {
            Some("file") => "f",
            Some("lock") => "lock",
            Some("virtualnamespace") => "vn",
            _ => continue,
        };
        let method = name.split('.').nth(1).unwrap();
        for param in &params {
            program.push_str(&format!("    attempt('kw {name} {param}', lambda: {object}.{method}({param}=Bad()))\n"));
        }
    }
    let vessel = common::Vessel::new();
    let run = vessel.run(&program, &[], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(!run.stdout.contains("unexpected keyword"), "api.md names a parameter the code does not know:\n{}", run.stdout);
    for (name, n) in expected_arity {
        let line = run.stdout.lines().find(|l| l.starts_with(&format!("arity {name} "))).unwrap_or_else(|| panic!("{run:?}"));
        assert!(line.contains(&format!("takes at most {n} argument")), "api.md gives {name} {n} parameters: {line}");
    }
    assert!(run.stdout.lines().filter(|l| l.starts_with("kw ")).count() >= 30, "{run:?}");
}

/// The program blocks of the tutorial: (path under the repository, text).
fn tutorial_files() -> Vec<(String, String)> {
    code_blocks(&read("docs/tutorial.md"))
        .into_iter()
        .filter_map(|(lang, text)| {
            let first = text.lines().next().unwrap_or("");
            let path = first.strip_prefix("# ").filter(|p| p.starts_with("examples/"));
            match (lang.as_str(), path) {
                ("python", None) => panic!("a python block of the tutorial does not start with '# examples/...':\n{text}"),
                ("python", Some(p)) | (_, Some(p)) => Some((p.to_owned(), text)),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn every_tutorial_program_is_an_example_file() {
    let files = tutorial_files();
    assert!(files.len() >= 10, "{files:?}");
    for (path, text) in &files {
        assert_eq!(&read(path), text, "the tutorial's block for {path} differs from the file");
        if path.ends_with(".restrictions") {
            let run = repy_in(&root(), &["restrictions", "check", path]);
            assert_eq!(run.status, Some(0), "{path}: {run:?}");
        }
    }
    // And every file of examples/tutorial is shown in the tutorial.
    let shown: BTreeSet<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for entry in std::fs::read_dir(root().join("examples/tutorial")).unwrap() {
        let name = format!("examples/tutorial/{}", entry.unwrap().file_name().to_string_lossy());
        assert!(shown.contains(name.as_str()), "{name} is not shown in docs/tutorial.md");
    }
}

/// Runs `repy run [extra...] PROGRAM args...` from the repository root with a fresh vessel.
fn run_example(program: &str, extra: &[&str], args: &[&str]) -> Run {
    let vessel = tempfile::tempdir().unwrap();
    run_in_vessel(vessel.path(), program, extra, args)
}

fn run_in_vessel(vessel: &Path, program: &str, extra: &[&str], args: &[&str]) -> Run {
    let vessel = vessel.to_str().unwrap();
    let mut all = vec!["run", "--cwd", vessel];
    all.extend_from_slice(extra);
    all.push(program);
    all.extend_from_slice(args);
    repy_in(&root(), &all)
}

fn assert_lines_in_order(output: &str, expected: &[&str]) {
    let mut lines = output.lines();
    for text in expected {
        assert!(lines.any(|l| l.contains(text)), "no line containing {text:?} in order in:\n{output}");
    }
}

#[test]
fn the_tutorial_programs_run_as_shown() {
    let mut checked = BTreeSet::new();
    let mut check = |name: &str| {
        checked.insert(format!("examples/tutorial/{name}"));
        format!("examples/tutorial/{name}")
    };

    let run = run_example(&check("first.py"), &[], &["Ada"]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "Hello, Ada! This is the initialize run.\nGoodbye, Ada. This is the exit run.\n");

    let run = run_example(&check("timers.py"), &[], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_lines_in_order(
        &run.stdout,
        &[
            "cancelled: True",
            "the main thread slept; the first tick is still to come",
            "tick 1 in _EVENT:Thread:",
            "tick 2 in _EVENT:Thread:",
            "tick 3 in _EVENT:Thread:",
            "no timer is left: exit run at ",
        ],
    );
    let exit_at: f64 = run
        .stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("no timer is left: exit run at "))
        .and_then(|l| l.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!(exit_at >= 0.9, "three ticks 0.3 s apart end at 0.9 s at the earliest, not {exit_at}");
    assert!(!run.stdout.contains("never runs"), "{run:?}");

    let run = run_example(&check("locks.py"), &[], &[]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), "two timers are counting\ncounter: 10000\n"), "{run:?}");

    let vessel = tempfile::tempdir().unwrap();
    let program = check("files.py");
    let run = run_in_vessel(vessel.path(), &program, &[], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "this vessel has been visited 1 time(s)\nread back [0, 1, 2, 255]\nfiles: ['bytes.bin', 'visits.txt']\nrefused: open: file name '../escape.txt' starts with '.'\n"
    );
    let again = run_in_vessel(vessel.path(), &program, &[], &[]);
    assert!(again.stdout.starts_with("this vessel has been visited 2 time(s)\n"), "{again:?}");

    check("small.restrictions");
    let run = run_example(&check("limits.py"), &["--usage", "--restrictions", "examples/tutorial/small.restrictions"], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    let took: f64 = run
        .stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("25 random numbers took "))
        .and_then(|l| l.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!((1.3..6.0).contains(&took), "10 calls per second with a burst of 10: 25 calls take about 1.5 s, not {took}");
    assert_lines_in_order(
        &run.stdout,
        &[
            "refused: settimer: events limit reached (4 of 4 in use)",
            "refused: removefile: denied by restrictions line 16 ('call removefile deny') for arguments ('anything.txt',)",
        ],
    );
    let usage = |resource: &str| -> Vec<String> {
        let line = run
            .stderr
            .lines()
            .find(|l| l.split_whitespace().next() == Some(resource))
            .unwrap_or_else(|| panic!("no {resource} row: {run:?}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(usage("random")[1..3], ["10", "25"], "{run:?}");
    assert_eq!(usage("events")[1..3], ["4", "4"], "{run:?}");
    assert_eq!(usage("resource")[1..3], ["limit", "used"], "{run:?}");

    let run = run_example(&check("errors.py"), &[], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "FileNotFoundError: open: file 'missing.txt' does not exist\n\
         RepyArgumentError: sleep: seconds must be a number\n\
         ResourceForbiddenError: recvmess: UDP port 80 is not a messport of this vessel\n\
         LockDoubleReleaseError: release: the lock is not locked\n\
         CodeUnsafeError: VirtualNamespace: snippet:1:8: no library 'os' was loaded with the program\n\
         RepyError: removefile: file name 'no such file' contains ' ' (allowed: a-z 0-9 . _ -)\n"
    );

    let run = run_example(&check("crash.py"), &[], &[]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(1), "average of [1, 2]: 1.5\n"), "{run:?}");
    assert_lines_in_order(
        &run.stderr,
        &["Traceback", "examples/tutorial/crash.py\", line 9", "line 4, in average", "ZeroDivisionError: division by zero"],
    );

    let run = run_example(&check("unsafe.py"), &[], &[]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(3), ""), "{run:?}");
    assert_eq!(
        run.stderr,
        "examples/tutorial/unsafe.py:3:8: 'os.path' is not a library name: libraries have plain names (there are no host modules or packages)\n\
         examples/tutorial/unsafe.py:6:13: name '__class__' is not allowed (contains '__')\n"
    );

    let run = run_example(&check("hog.py"), &[], &[]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(4), "asking for 10 GB\n"), "{run:?}");
    assert_eq!(run.stderr, "repy: terminated: memory limit exceeded (limit 100000000 bytes)\n");

    // The bad restrictions file of section 8.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("typo.restrictions"), "resource cpu 0.5\nresauce events 10\n").unwrap();
    let first = root().join("examples/tutorial/first.py");
    let run = repy_in(dir.path(), &["run", "--restrictions", "typo.restrictions", first.to_str().unwrap()]);
    assert_eq!(run.status, Some(2), "{run:?}");
    assert!(run.stderr.starts_with("repy: restrictions file 'typo.restrictions', line 2: unknown keyword 'resauce'"), "{run:?}");
    assert!(read("docs/tutorial.md").contains(run.stderr.trim_end()), "the tutorial shows these lines: {run:?}");

    checked.insert("examples/tutorial/chat.py".into()); // run by the_chat_works_between_two_vessels
    for gossip in ["average1.py", "average2.py"] {
        checked.insert(format!("examples/tutorial/{gossip}")); // run by the_tutorial_gossip_steps_work_on_a_testbed
    }
    let files: BTreeSet<String> = tutorial_files().into_iter().map(|(p, _)| p).collect();
    assert_eq!(checked, files, "every program of the tutorial is run by this test");
}

/// A `repy run` in the background whose stdout is collected as it comes.
struct Background {
    child: std::process::Child,
    stdout: Arc<Mutex<String>>,
}

impl Background {
    fn start(vessel: &Path, args: &[&str]) -> Self {
        let mut child = repy()
            .args(["run", "--cwd", vessel.to_str().unwrap(), "examples/tutorial/chat.py"])
            .args(args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("repy starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let pipe = child.stdout.take().unwrap();
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self { child, stdout }
    }

    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.stdout.lock().unwrap().contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} in:\n{}", self.stdout.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread drain the pipe.
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), self.stdout.lock().unwrap().clone());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the chat did not end:\n{}", self.stdout.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_chat_works_between_two_vessels() {
    let (alice_dir, bob_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (free_udp_port().to_string(), free_udp_port().to_string());
    let alice = Background::start(alice_dir.path(), &["alice", &a, &b]);
    let bob = Background::start(bob_dir.path(), &["bob", &b, &a]);
    alice.wait_for(&format!("alice is listening on port {a}; append lines to outbox.txt"));
    bob.wait_for(&format!("bob is listening on port {b}; append lines to outbox.txt"));

    append(&alice_dir.path().join("outbox.txt"), "hello bob\n");
    bob.wait_for("alice: hello bob");
    // A partial line waits for its end.
    append(&bob_dir.path().join("outbox.txt"), "hi alice, ");
    std::thread::sleep(Duration::from_millis(500));
    append(&bob_dir.path().join("outbox.txt"), "how are you?\n");
    alice.wait_for("bob: hi alice, how are you?");
    append(&alice_dir.path().join("outbox.txt"), "/quit\n");

    let (alice_status, alice_out) = alice.finish();
    let (bob_status, bob_out) = bob.finish();
    assert_eq!(alice_status, Some(0), "{alice_out}");
    assert_eq!(bob_status, Some(0), "{bob_out}");
    assert_eq!(alice_out, format!("alice is listening on port {a}; append lines to outbox.txt\nbob: hi alice, how are you?\nbye\n"));
    assert_eq!(bob_out, format!("bob is listening on port {b}; append lines to outbox.txt\nalice: hello bob\nalice left the chat\n"));
}

#[test]
fn the_chat_explains_its_usage() {
    let run = run_example("examples/tutorial/chat.py", &[], &["alice"]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), "usage: chat.py NAME MYPORT PEERPORT\n"), "{run:?}");
}

/// The transcripts `$ repy run examples/tutorial/...` of the tutorial show exactly what the
/// program prints (stdout, then stderr, then `status N` when the command echoes it), except
/// the ones whose figures depend on timing.
#[test]
fn the_tutorial_transcripts_are_exact() {
    let mut compared = 0;
    for (lang, text) in code_blocks(&read("docs/tutorial.md")) {
        let mut lines = text.lines();
        let Some(command) = lines.next().and_then(|l| l.strip_prefix("$ repy run examples/tutorial/")) else { continue };
        if lang != "sh" || command.contains("--usage") || command.starts_with("timers.py") {
            continue;
        }
        let (command, echoes_status) = match command.strip_suffix("; echo \"status $?\"") {
            Some(c) => (c, true),
            None => (command, false),
        };
        let mut words = command.split_whitespace();
        let program = format!("examples/tutorial/{}", words.next().unwrap());
        let args: Vec<&str> = words.collect();
        let run = run_example(&program, &[], &args);
        let mut actual = format!("{}{}", run.stdout, run.stderr);
        if echoes_status {
            actual.push_str(&format!("status {}\n", run.status.unwrap_or(-1)));
        } else {
            assert_eq!(run.status, Some(0), "{run:?}");
        }
        let shown: String = lines.map(|l| format!("{l}\n")).collect();
        assert_eq!(actual, shown, "the tutorial's transcript of `repy run examples/tutorial/{command}` differs");
        compared += 1;
    }
    assert!(compared >= 6, "only {compared} transcripts compared");
}

/// The last number each vessel printed after `marker` (`round 40 value 0.2500` and the like).
fn last_numbers(log: &str, marker: &str) -> std::collections::BTreeMap<String, f64> {
    let mut last = std::collections::BTreeMap::new();
    for line in log.lines() {
        let Some((vessel, rest)) = line.split_once(": ") else { continue };
        if let Some(number) = rest.split_once(marker).and_then(|(_, n)| n.trim().parse::<f64>().ok()) {
            last.insert(vessel.to_owned(), number);
        }
    }
    last
}

/// Part 2 of the tutorial on a testbed of four vessels, as it shows: averaging converges to
/// 1/4 everywhere with the sum kept, and the asker estimates 4.
#[test]
fn the_tutorial_gossip_steps_work_on_a_testbed() {
    let bed = Testbed::up(2, 2, "60500-60999");
    let program = |name: &str| root().join("examples/tutorial").join(name).display().to_string();
    let out = bed.fleet(&["run", "--timeout", "120", &program("average1.py"), "{ip}:{port}", "{peers}"]);
    let log = text(&out.stdout);
    assert!(out.status.success(), "{log}{}", text(&out.stderr));
    let values = last_numbers(&log, "round 40 value");
    assert_eq!(values.len(), 4, "{log}");
    let sum: f64 = values.values().sum();
    assert!((sum - 1.0).abs() < 0.01, "the numbers no longer sum to 1: {values:?}");
    assert!(values.values().all(|v| (v - 0.25).abs() < 0.01), "not converged to 1/4: {values:?}");

    let out = bed.fleet(&["run", "--timeout", "120", &program("average2.py"), "{ip}:{port}", "{peers}"]);
    let log = text(&out.stdout);
    assert!(out.status.success(), "{log}{}", text(&out.stderr));
    let estimates = last_numbers(&log, "round 40 size estimate");
    assert_eq!(estimates.len(), 1, "only the asker estimates: {log}");
    let estimate = *estimates.values().next().unwrap();
    assert!((estimate - 4.0).abs() <= 0.08, "estimate {estimate}, not within 2 % of 4");
}
