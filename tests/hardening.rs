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
