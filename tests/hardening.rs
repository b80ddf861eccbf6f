//! Findings of the independent attack on the release build, each tried again: a crash case
//! must end cleanly with its status and message, a bypass case must stay within its limit.

mod common;

use common::{free_port, once, restrictions_with, Run, Vessel};

/// Runs `source` under the default profile with `memory` bytes of heap.
fn run_with_memory(source: &str, memory: u64) -> Run {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with(&format!("resource memory {memory}")));
    vessel.run(source, &["--restrictions", "r.txt"], &[])
}

fn assert_clean(label: &str, run: &Run) {
    assert!(run.status.is_some(), "{label}: killed by a signal: {run:?}");
    for crash in ["panicked", "memory allocation failed", "overflow", ".rs:"] {
        assert!(!run.stderr.contains(crash), "{label}: '{crash}' in stderr: {run:?}");
    }
}

/// Compiling is counted: a hostile source can make the compiler take far more memory than
/// the program would ever hold (the attack's comparison chains). Here a function that is
/// never called holds a 200,000-element list display: 1.5 MB of source whose compilation
/// needs more than 10 MB, while running the program needs almost nothing.
#[test]
fn compiling_a_program_is_held_to_the_memory_limit() {
    let elements: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
    let source = format!("def never_called():\n    return [{}]\nprint('ran')\n", elements.join(", "));
    let run = run_with_memory(&source, 10_000_000);
    assert_clean("large display", &run);
    assert_eq!(run.status, Some(4), "{run:?}");
    assert_eq!(run.stderr, "repy: terminated: memory limit exceeded (limit 10000000 bytes)\n");
    assert_eq!(run.stdout, "", "the program never ran");
}

/// A request of about 2^63 bytes used to wrap the limit check, and the worker aborted.
#[test]
fn an_allocation_near_the_address_space_size_ends_at_the_memory_limit() {
    for (label, statement) in
        [("str.center", "x = 'x'.center(2**63 - 1)"), ("bytes repeat", "x = b'x' * (2**63 - 1)"), ("list repeat", "x = [0] * (2**60)")]
    {
        let run = run_with_memory(&once(&format!("{statement}\nprint('allocated')")), 100_000_000);
        assert_clean(label, &run);
        // The interpreter may refuse the size itself (a Python exception, status 1) or ask
        // for it (the limit ends the vessel, status 4); never an abort.
        match run.status {
            Some(4) => assert!(run.stderr.contains("memory limit exceeded (limit 100000000 bytes)"), "{label}: {run:?}"),
            Some(1) => assert!(run.stderr.contains("Error"), "{label}: {run:?}"),
            _ => panic!("{label}: {run:?}"),
        }
        assert!(!run.stdout.contains("allocated"), "{label}: {run:?}");
    }
}

/// `openconn(..., timeout=1e308)` panicked adding the timeout to the clock, and the panic's
/// report named host paths.
#[test]
fn an_enormous_connect_timeout_is_a_long_wait_not_a_panic() {
    let (open, closed) = (free_port(), free_port());
    let program = format!(
        "def serve(ip, port, sock, this, listener):\n    sock.close()\n\
         listener = waitforconn('127.0.0.1', {open}, serve)\n\
         for timeout in [1e308, 2**70, float('inf')]:\n\
         \x20   try:\n\
         \x20       s = openconn('127.0.0.1', {open}, timeout=timeout)\n\
         \x20       print('connected', timeout)\n\
         \x20       s.close()\n\
         \x20   except RepyArgumentError as e:\n\
         \x20       print('refused argument', timeout)\n\
         try:\n    openconn('127.0.0.1', {closed}, timeout=2**70)\nexcept ConnectionRefusedError as e:\n    print('refused', e)\n\
         stopcomm(listener)\n"
    );
    let run = Vessel::new().run(&once(&program), &[], &[]);
    assert_clean("huge timeouts", &run);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "connected 1e+308\nconnected 1180591620717411303424\nrefused argument inf\nrefused openconn: connection to 127.0.0.1:{closed} refused\n"
        ),
        "{run:?}"
    );
}

/// Runs `source` with `restrictions` lines changed from the default, reading its stdout as
/// it comes: (when each piece arrived, the piece), and the exit status.
fn run_timed(source: &str, restrictions: &str) -> (Vec<(std::time::Instant, Vec<u8>)>, Option<i32>, String) {
    use std::{io::Read, process::Stdio};
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with(restrictions));
    vessel.write("prog.py", source);
    let mut child = common::repy()
        .args(["run", "--restrictions", "r.txt", "prog.py"])
        .current_dir(vessel.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("repy runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut pieces = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    while let Ok(n) = stdout.read(&mut buffer) {
        if n == 0 {
            break;
        }
        pieces.push((std::time::Instant::now(), buffer[..n].to_vec()));
    }
    let output = child.wait_with_output().unwrap();
    (pieces, output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Bytes that arrived within `window` of the first one.
fn bytes_within(pieces: &[(std::time::Instant, Vec<u8>)], window: std::time::Duration) -> usize {
    let Some(&(first, _)) = pieces.first() else { return 0 };
    pieces.iter().filter(|(at, _)| *at <= first + window).map(|(_, p)| p.len()).sum()
}

/// One 40,000-byte `print` under `lograte 10000` used to go out at once (the wait came
/// after it). Now the rate holds over any window: about the burst plus 10,000 a second.
#[test]
fn one_large_print_is_held_to_lograte_over_every_window() {
    let (pieces, status, stderr) = run_timed(&once("print('x' * 40000)"), "resource lograte 10000");
    assert_eq!(status, Some(0), "{stderr}");
    let total: usize = pieces.iter().map(|(_, p)| p.len()).sum();
    assert_eq!(total, 40001, "the whole text and its newline came out");
    let first_second = bytes_within(&pieces, std::time::Duration::from_secs(1));
    assert!(first_second <= 25_000, "{first_second} bytes in the first second under lograte 10000");
}

/// One 10 MB `write` under `filewrite 1000` went to disk at once; the file now grows at
/// the rate. The test watches the file's size from outside.
#[test]
fn one_large_file_write_is_held_to_filewrite_over_every_window() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource filewrite 20000"));
    vessel.write("prog.py", &once("f = open('big.txt', 'w')\nf.write('x' * 80000)\nf.close()\nprint('written')"));
    let child = common::repy()
        .args(["run", "--restrictions", "r.txt", "prog.py"])
        .current_dir(vessel.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("repy runs");
    let path = vessel.path().join("big.txt");
    let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while size() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let after_one_second = size();
    let output = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "written\n");
    assert_eq!(size(), 80000);
    assert!(after_one_second <= 50_000, "{after_one_second} bytes written in the first second under filewrite 20000");
}

/// A program that holds an accepted connection without reading and opens one to it.
fn unread_connection(port: u16, then: &str) -> String {
    format!(
        "held = []\n\
         def serve(ip, port, sock, this, listener):\n    held.append(sock)\n\
         listener = waitforconn('127.0.0.1', {port}, serve)\n\
         s = openconn('127.0.0.1', {port})\n\
         {then}\n\
         s.close()\n\
         stopcomm(listener)\n\
         exitall()\n"
    )
}

/// One 4 MB `send` under `loopsend 1000` went out at once. `send` now returns what the
/// send rate takes (as Seattle's, possibly less than asked).
#[test]
fn tcp_send_takes_what_the_rate_allows() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource loopsend 10000"));
    let program = unread_connection(free_port(), "n = s.send('x' * 4000000)\nprint('sent', 0 < n <= 10000)");
    let run = vessel.run(&once(&program), &["--restrictions", "r.txt"], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "sent True\n", "{run:?}");
}

/// `willblock()` tells when the connection's (bounded) buffers are full: a program filling
/// a connection whose peer does not read sees `send_would_block` become true, within a
/// bounded amount of data.
#[test]
fn willblock_reflects_the_bounded_tcp_buffers() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource loopsend 64000000"));
    let program = unread_connection(
        free_port(),
        "total = 0\nwhile not s.willblock()[1] and total < 50000000:\n    total += s.send('y' * 65536)\nprint('blocked', s.willblock()[1], 'within 2 MB', total < 2000000)",
    );
    let run = vessel.run(&once(&program), &["--restrictions", "r.txt"], &[]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "blocked True within 2 MB True\n", "{run:?}");
}

/// A UDP listener whose receive rate is limited does not let datagrams wait for seconds:
/// its socket buffers about a second of the rate, the excess is dropped as a full socket
/// drops it. 300 datagrams in a burst, then, 2 s later, a last one: it arrives at once.
#[test]
fn a_rate_limited_udp_listener_does_not_queue_datagrams_for_seconds() {
    let port = free_port();
    let program = format!(
        "mycontext['n'] = 0\n\
         def got(ip, port, message, handle):\n\
         \x20   if message == 'last':\n\
         \x20       print('last after', mycontext['n'], 'datagrams at', round(getruntime() - mycontext['start'], 1))\n\
         \x20       exitall()\n\
         \x20   mycontext['n'] += 1\n\
         def give_up():\n    print('no last datagram')\n    exitall()\n\
         recvmess('127.0.0.1', {port}, got)\n\
         settimer(10, give_up, ())\n\
         mycontext['start'] = getruntime()\n\
         print('ready')\n"
    );
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource looprecv 2000"));
    vessel.write("prog.py", &once(&program));
    let mut child = common::repy()
        .args(["run", "--restrictions", "r.txt", "prog.py"])
        .current_dir(vessel.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("repy runs");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..300 {
        sender.send_to(format!("{i:0100}").as_bytes(), ("127.0.0.1", port)).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    sender.send_to(b"last", ("127.0.0.1", port)).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    child.wait().unwrap();
    // 164 units a datagram at 2,000 a second: the 300 would have kept it busy for 25 s.
    let words: Vec<&str> = rest.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"last"), "{rest}");
    let received: usize = words[2].parse().unwrap();
    assert!(received < 100, "{received} datagrams of the burst waited to be delivered: {rest}");
}

/// Kernel socket buffers are memory the vessel holds: 15 loopback TCP pairs held 61 MB
/// against a 20 MB limit. Each connection's buffers are now bounded and counted against
/// `memory`, so opening connections ends in ResourceExhaustedError within the limit.
#[test]
fn kernel_socket_buffers_count_against_the_memory_limit() {
    let port = free_port();
    let program = format!(
        "held = []\n\
         def serve(ip, port, sock, this, listener):\n    held.append(sock)\n\
         listener = waitforconn('127.0.0.1', {port}, serve)\n\
         opened = 0\n\
         try:\n\
         \x20   while opened < 40:\n\
         \x20       held.append(openconn('127.0.0.1', {port}))\n\
         \x20       opened += 1\n\
         except ResourceExhaustedError as e:\n\
         \x20   print('refused after', opened, 'kernel buffers' in str(e))\n\
         exitall()\n"
    );
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource memory 8000000"));
    let run = vessel.run(&once(&program), &["--restrictions", "r.txt"], &[]);
    assert_clean("socket buffers", &run);
    assert_eq!(run.status, Some(0), "{run:?}");
    let words: Vec<&str> = run.stdout.split_whitespace().collect();
    assert_eq!((words.first(), words.last()), (Some(&"refused"), Some(&"True")), "{run:?}");
    // Each end holds about 256 KiB; an accepted end that did not fit was closed, so the
    // opened ends alone may fill the 8 MB: at most 8 MB / 256 KiB of them.
    let opened: usize = words[2].parse().unwrap();
    assert!((1..=30).contains(&opened), "{run:?}");
}

/// A 5 MB exception message went to stderr uncharged; the report of an uncaught exception
/// is now bounded (its start and its end are kept).
#[test]
fn an_enormous_uncaught_exception_message_is_cut() {
    let run = Vessel::new().run(&once("raise ValueError('m' * 5000000 + 'END')"), &[], &[]);
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(run.stderr.len() < 20_000, "{} bytes of stderr", run.stderr.len());
    assert!(run.stderr.starts_with("Traceback (most recent call last):\n"), "{}", &run.stderr[..200]);
    assert!(run.stderr.contains(" bytes left out ...]\n"), "{}", &run.stderr[..200]);
    assert!(run.stderr.ends_with("mmmEND\n"), "{}", &run.stderr[run.stderr.len() - 200..]);
}

/// A million nested brackets (of every kind, with walrus and star), and 200,000 in a
/// VirtualNamespace string, overflowed the native stack; now the check refuses them at the
/// compiler's limit of 200 and says where, and `repy check` agrees with `repy run`.
#[test]
fn a_million_nested_brackets_are_refused_where_the_nesting_passes_the_limit() {
    let million = 1_000_000;
    let vessel = Vessel::new();
    for (name, source) in [
        ("parens.py", format!("x = {}1{}\n", "(".repeat(million), ")".repeat(million))),
        ("lists.py", format!("x = {}{}\n", "[".repeat(million), "]".repeat(million))),
        ("dicts.py", format!("x = {}1{}\n", "{1:".repeat(million), "}".repeat(million))),
        ("walrus.py", format!("x = {}1{}\n", "(a:=".repeat(million), ")".repeat(million))),
        ("star.py", format!("x = {}[]{}\n", "[*".repeat(million), "]".repeat(million))),
    ] {
        vessel.write(name, &source);
        for command in ["check", "run"] {
            let run = common::repy_in(vessel.path(), &[command, name]);
            assert_clean(name, &run);
            assert_eq!(run.status, Some(3), "{name} under {command}: {run:?}");
            assert!(run.stderr.starts_with(&format!("{name}:1:")), "{name} under {command}: {run:?}");
            assert!(run.stderr.contains("too many nested parentheses"), "{name} under {command}: {run:?}");
        }
    }
    let namespace = "try:\n    VirtualNamespace('x = ' + '(' * 200000 + '1' + ')' * 200000, 'deep')\n\
                     except CodeUnsafeError as e:\n    print('refused:', e)\n";
    let run = Vessel::new().run(&once(namespace), &[], &[]);
    assert_clean("namespace", &run);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("refused: VirtualNamespace: deep:1:") && run.stdout.contains("too many nested parentheses"), "{run:?}");
}

/// Runs `repy ARGS` in `dir` to its end: (exit status, peak resident size in bytes of the
/// process and the children it waited for, from wait4; Unix only, like the tests using it).
#[cfg(unix)]
fn peak_resident_of(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, u64) {
    let child =
        common::repy().args(args).current_dir(dir).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills both for the child we started.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, usage.ru_maxrss as u64 * 1024)
}

/// The parser grows its own stack for as deep as the source nests: a line of ten million
/// minus signs made `repy check` (and the supervisor of `repy run`, before any vessel
/// limit applies) take 17 GB. Now the address space of a parse is bounded: five million
/// are refused as too deep within 1 GB; 250,000 parse, are refused by the check, and the
/// tree that deep is dropped without overflowing the stack.
#[cfg(unix)]
#[test]
fn a_parse_that_nests_without_brackets_is_bounded() {
    let vessel = Vessel::new();
    vessel.write("minus.py", &format!("x = {}1\n", "-".repeat(5_000_000)));
    vessel.write("fewer.py", &format!("x = {}1\n", "-".repeat(250_000)));
    for command in ["check", "run"] {
        let (status, peak) = peak_resident_of(vessel.path(), &[command, "minus.py"]);
        assert_eq!(status, Some(3), "{command}: status");
        assert!(peak < 1_000_000_000, "{command}: the parse peaked at {peak} bytes");
    }
    let run = common::repy_in(vessel.path(), &["check", "minus.py"]);
    assert_clean("minus", &run);
    assert!(run.stderr.starts_with("minus.py:1:1: nesting too deep: parsing this source would take more than"), "{run:?}");
    let run = common::repy_in(vessel.path(), &["check", "fewer.py"]);
    assert_clean("fewer", &run);
    assert_eq!(run.status, Some(3), "{run:?}");
    // The check's refusal when the tree was built (and then dropped, 250,000 levels deep);
    // the parse's, where a build's frames are larger.
    assert!(run.stderr.starts_with("fewer.py:1:") && run.stderr.contains("nesting too deep"), "{run:?}");
}

/// The same bound holds for VirtualNamespace code parsed inside the worker, behind its
/// kernel wall: five million minus signs are refused, and the vessel (whose own heap is
/// 100 MB) never grows past 1 GB.
#[cfg(unix)]
#[test]
fn a_virtual_namespace_parse_is_bounded_inside_the_worker() {
    let vessel = Vessel::new();
    vessel.write(
        "vn.py",
        &once(
            "try:\n    VirtualNamespace('x = ' + '-' * 5000000 + '1', 'deep')\n\
             except CodeUnsafeError as e:\n    print('refused:', e)\n",
        ),
    );
    let (status, peak) = peak_resident_of(vessel.path(), &["run", "vn.py"]);
    assert_eq!(status, Some(0), "status");
    assert!(peak < 1_000_000_000, "the vessel peaked at {peak} bytes");
    let run = common::repy_in(vessel.path(), &["run", "vn.py"]);
    assert_clean("namespace", &run);
    assert!(run.stdout.starts_with("refused: VirtualNamespace: deep:1:1: nesting too deep: parsing"), "{run:?}");
}
