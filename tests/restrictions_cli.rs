//! `repy restrictions show|check` and bad restrictions files under `repy run`
//! (restrictions.md §1.3, §6).

mod common;

use common::{repy_in, Vessel};

#[test]
fn show_default_prints_the_builtin_profile_which_runs_identically() {
    let vessel = Vessel::new();
    let shown = repy_in(vessel.path(), &["restrictions", "show", "default"]);
    assert_eq!(shown.status, Some(0));
    assert!(shown.stdout.starts_with("# Built-in restrictions profile \"default\""));
    assert!(shown.stdout.contains("resource events 50\n"));
    vessel.write("default.txt", &shown.stdout);
    let check = repy_in(vessel.path(), &["restrictions", "check", "default.txt"]);
    assert_eq!((check.status, check.stderr.as_str()), (Some(0), ""));
    let run = vessel.run("if callfunc == 'initialize':\n    print('ok')\n", &["--restrictions", "default.txt"], &[]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), "ok\n"), "{run:?}");
}

#[test]
fn show_unknown_profile_names_it() {
    let run = repy_in(std::path::Path::new("."), &["restrictions", "show", "nosuch"]);
    assert_eq!(run.status, Some(2));
    assert!(run.stderr.contains("'nosuch'"), "{run:?}");
}

const THREE_MISTAKES: &str = "resource cpu 0.5\nresource memory 1000000\n# a comment\nresauce events 10\nresource diskused 1000000\nresource events abc\ncall sleep permit\n";

#[test]
fn three_mistakes_give_three_messages_with_line_numbers() {
    let vessel = Vessel::new();
    vessel.write("bad.txt", THREE_MISTAKES);
    let run = repy_in(vessel.path(), &["restrictions", "check", "bad.txt"]);
    assert_eq!(run.status, Some(2), "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert!(lines[0].starts_with("repy: restrictions file 'bad.txt', line 4: "), "{run:?}");
    assert!(lines[1].starts_with("repy: restrictions file 'bad.txt', line 6: "), "{run:?}");
    assert!(lines[2].starts_with("repy: restrictions file 'bad.txt', line 7: "), "{run:?}");
    assert!(lines[1].contains("abc") && lines[2].contains("permit"), "{run:?}");
}

#[test]
fn run_refuses_a_bad_restrictions_file_before_reading_the_program() {
    let vessel = Vessel::new();
    vessel.write("bad.txt", THREE_MISTAKES);
    let run = vessel.run("print('ran')\n", &["--restrictions", "bad.txt"], &[]);
    assert_eq!(run.status, Some(2), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 3, "{run:?}");
}

#[test]
fn missing_required_resource_is_reported_at_end_of_file() {
    let vessel = Vessel::new();
    vessel.write("r.txt", "resource memory 1000\nresource diskused 1000\nresource events 1\n");
    let run = repy_in(vessel.path(), &["restrictions", "check", "r.txt"]);
    assert_eq!(run.status, Some(2));
    assert!(run.stderr.contains("end of file") && run.stderr.contains("cpu"), "{run:?}");
}

#[test]
fn unreadable_restrictions_file_is_named() {
    let vessel = Vessel::new();
    let run = repy_in(vessel.path(), &["restrictions", "check", "missing.txt"]);
    assert_eq!(run.status, Some(2));
    assert!(run.stderr.contains("'missing.txt'") && run.stderr.contains("cannot read"), "{run:?}");
}
