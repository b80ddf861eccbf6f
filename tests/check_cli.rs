//! `repy check`: the static check alone (cli.md).

mod common;

use common::{repy_in, Vessel};

#[test]
fn safe_programs_exit_zero_and_unsafe_ones_list_every_violation() {
    let vessel = Vessel::new();
    vessel.write("good.py", "def f(x):\n    return x + 1\nprint(f(1))\n");
    vessel.write("bad.py", "x = 1\nimport os.path\ny = x.__class__\ndef g():\n    global x\n");
    let good = repy_in(vessel.path(), &["check", "good.py"]);
    assert_eq!((good.status, good.stderr.as_str()), (Some(0), ""), "{good:?}");
    let bad = repy_in(vessel.path(), &["check", "good.py", "bad.py"]);
    assert_eq!(bad.status, Some(3), "{bad:?}");
    let lines: Vec<&str> = bad.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{bad:?}");
    assert!(lines[0].starts_with("bad.py:2:8: 'os.path' is not a library name"), "{bad:?}");
    assert!(lines[1].starts_with("bad.py:3:7: name '__class__'"), "{bad:?}");
    assert!(lines[2].starts_with("bad.py:5:5: 'global'"), "{bad:?}");
}

#[test]
fn unreadable_and_invalid_utf8_programs() {
    let vessel = Vessel::new();
    std::fs::write(vessel.path().join("latin.py"), b"x = 1\ns = '\xe9'\n").unwrap();
    let run = repy_in(vessel.path(), &["check", "latin.py"]);
    assert_eq!(run.status, Some(3), "{run:?}");
    assert!(run.stderr.starts_with("latin.py:2:6: invalid UTF-8"), "{run:?}");
    let missing = repy_in(vessel.path(), &["check", "nope.py"]);
    assert_eq!(missing.status, Some(2), "{missing:?}");
    assert!(missing.stderr.contains("nope.py"), "{missing:?}");
}
