//! The file API (repy-api.md §6) and the resources it charges.

mod common;

use std::time::{Duration, Instant};

use common::{once, restrictions_with, run_program, Vessel};

#[test]
fn write_read_seek_iterate_and_list() {
    let vessel = Vessel::new();
    let run = vessel.run(
        &once("f = open('data.txt', 'w')\nf.write('line one\\nline two\\n')\nf.writelines(['a\\n', b'b\\n'])\nprint('x', 42, file=f)\nf.close()\nprint(listdir())\nwith open('data.txt') as g:\n    print(repr(g.readline()), g.readlines())\ng = open('data.txt', 'r+')\nprint([l for l in g])\ng.seek(5)\nprint(repr(g.read(3)))\ng.seek(-2, 2)\nprint(repr(g.read()))\ng.seek(0, 2)\ng.write('\\xff')\ng.close()\n"),
        &[],
        &[],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "['data.txt', 'prog.py']\n'line one\\n' ['line two\\n', 'a\\n', 'b\\n', 'x 42\\n']\n['line one\\n', 'line two\\n', 'a\\n', 'b\\n', 'x 42\\n']\n'one'\n'2\\n'\n"
    );
    let bytes = std::fs::read(vessel.path().join("data.txt")).unwrap();
    assert_eq!(bytes.last(), Some(&0xff), "one byte per character");
}

#[test]
fn documented_errors_name_the_culprit() {
    let run = run_program(&once(
        "def attempt(f, *a):\n    try:\n        f(*a)\n    except RepyError as e:\n        print(type(e) is FileNotFoundError, e)\nattempt(open, 'a/b', 'w')\nattempt(open, '..')\nattempt(open, 'missing.txt')\nattempt(open, 'x.txt', 'q')\nattempt(removefile, 'missing.txt')\nf = open('x.txt', 'w')\nattempt(open, 'x.txt')\nattempt(removefile, 'x.txt')\nf.close()\nattempt(f.write, 'y')\nattempt(f.seek, -1)\nf = open('x.txt')\nattempt(f.write, 'y')\nattempt(f.seek, -1)\nattempt(f.write, 'y' * 0 + chr(300))\n",
    ));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "False open: file name 'a/b' contains '/' (allowed: a-z 0-9 . _ -)",
            "False open: file name '..' starts with '.'",
            "True open: file 'missing.txt' does not exist",
            "False open: mode 'q' is not one of r, r+, w, w+, a, a+",
            "True removefile: file 'missing.txt' does not exist",
            "False open: file 'x.txt' is already open",
            "False removefile: file 'x.txt' is open",
            "False file.write: file 'x.txt' is closed",
            "False file.seek: file 'x.txt' is closed",
            "False file.write: file 'x.txt' was not opened for writing",
            "False file.seek: position would be negative (offset -1, whence 0)",
            "False file.write: character '\u{12c}' at index 0 is not a byte (code point above 255)",
        ],
        "{run:?}"
    );
}

/// Unix only: making symbolic links on Windows needs a privilege.
#[cfg(unix)]
#[test]
fn links_and_directories_are_invisible() {
    let vessel = Vessel::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "top secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), vessel.path().join("link")).unwrap();
    std::fs::create_dir(vessel.path().join("sub")).unwrap();
    let run = vessel.run(
        &once("print(listdir())\nfor name in ['link', 'sub']:\n    for mode in ['r', 'w', 'a']:\n        try:\n            print(open(name, mode).read())\n        except FileNotFoundError:\n            print('refused', name, mode)\n"),
        &[],
        &[],
    );
    assert_eq!(run.stdout.lines().next(), Some("['prog.py']"), "{run:?}");
    assert_eq!(run.stdout.matches("refused").count(), 6, "{run:?}");
    assert!(!run.stdout.contains("top secret"));
    assert_eq!(std::fs::read_to_string(outside.path().join("secret")).unwrap(), "top secret");
}

#[test]
fn too_many_open_files_is_refused_and_unreferenced_files_are_reclaimed() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource filesopened 2"));
    let run = vessel.run(
        &once("a = open('a', 'w')\nb = open('b', 'w')\ntry:\n    open('c', 'w')\nexcept ResourceExhaustedError as e:\n    print(e)\nb = None\nc = open('c', 'w')\nprint('reclaimed')\n"),
        &["--restrictions", "r.txt"],
        &[],
    );
    assert_eq!(run.stdout, "open: filesopened limit reached (2 of 2 in use)\nreclaimed\n", "{run:?}");
}

#[test]
fn writing_past_diskused_ends_the_vessel_and_keeps_what_was_written() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource diskused 40000"));
    let run = vessel.run(
        &once("f = open('out.txt', 'w')\nf.write('a' * 10000)\nprint('first write done')\nf.write('b' * 30000)\nprint('never')\n"),
        &["--restrictions", "r.txt"],
        &[],
    );
    assert_eq!(run.status, Some(4), "{run:?}");
    assert_eq!(run.stdout, "first write done\n");
    assert!(run.stderr.starts_with("repy: terminated: disk limit exceeded"), "{run:?}");
    assert_eq!(std::fs::read_to_string(vessel.path().join("out.txt")).unwrap(), "a".repeat(10000));
}

#[test]
fn file_writes_wait_for_the_filewrite_rate() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource filewrite 20000"));
    vessel.write("prog.py", &once("f = open('o', 'w')\nfor i in range(6):\n    f.write('x' * 10000)\nf.close()\n"));
    let start = Instant::now();
    let run = common::repy_in(vessel.path(), &["run", "--restrictions", "r.txt", "prog.py"]);
    // 60 000 bytes at 20 000 B/s after a one-second burst: about two seconds at least.
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(start.elapsed() > Duration::from_millis(1800), "{:?}", start.elapsed());
}

#[test]
fn file_reads_wait_for_the_fileread_rate() {
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions_with("resource fileread 20000"));
    vessel.write("data", &"y".repeat(60_000));
    vessel.write("prog.py", &once("f = open('data')\ngot = 0\nwhile True:\n    chunk = f.read(5000)\n    if not chunk:\n        break\n    got += len(chunk)\nprint(got)\n"));
    let start = Instant::now();
    let run = common::repy_in(vessel.path(), &["run", "--restrictions", "r.txt", "prog.py"]);
    // 60 000 bytes at 20 000 B/s after a one-second burst: about two seconds at least.
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), "60000\n"), "{run:?}");
    assert!(start.elapsed() > Duration::from_millis(1800), "{:?}", start.elapsed());
}

#[test]
fn call_rules_apply_to_file_operations() {
    let vessel = Vessel::new();
    let text =
        restrictions_with("").replace("call file.__init__ allow\n", "call file.__init__ arg 1 is wb deny\ncall file.__init__ allow\n");
    vessel.write("r.txt", &text);
    vessel.write("old.txt", "x");
    let run = vessel.run(
        &once("print(open('old.txt', 'w') is not None)\ntry:\n    open('new.txt', 'w')\nexcept ResourceForbiddenError as e:\n    print('denied')\nprint('new.txt' in listdir())\n"),
        &["--restrictions", "r.txt"],
        &[],
    );
    assert_eq!(run.stdout, "True\ndenied\nFalse\n", "{run:?}");
}
