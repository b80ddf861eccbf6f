//! Libraries end to end: `import` under `repy run`, `repy check`, `repy test` and `repy fleet`,
//! the search order, and libraries that are missing, unsafe, cyclic or named like the
//! interpreter's own modules (refused before anything runs).

mod common;
use common::{
    repy_in,
    testbed::{text, Testbed},
    Vessel,
};

const GREET: &str = "\
runs = [0]
runs[0] += 1
def hello(name):
    mycontext['greeted'] = mycontext.get('greeted', 0) + 1
    return 'hello %s from a library run %d time(s), callfunc %s' % (name, runs[0], callfunc)
def fail():
    raise ValueError('raised in the library')
";

#[test]
fn a_library_runs_once_in_its_own_namespace_sharing_mycontext() {
    let vessel = Vessel::new();
    vessel.write("greet.py", GREET);
    let run = vessel.run(
        "import greet\nfrom greet import hello as hi\nruns = 'the program keeps its own name'\n\
         if callfunc == 'initialize':\n    print(greet.hello('a'))\n    print(hi('b'), mycontext['greeted'], runs)\n\
         else:\n    print(hi('c'))\n    greet.fail()\n",
        &[],
        &["x"],
    );
    assert_eq!(run.status, Some(1), "{run:?}");
    assert_eq!(
        run.stdout,
        "hello a from a library run 1 time(s), callfunc import\n\
         hello b from a library run 1 time(s), callfunc import 2 the program keeps its own name\n\
         hello c from a library run 1 time(s), callfunc import\n"
    );
    // The traceback names the library's file and line.
    assert!(run.stderr.contains("File \"greet.py\", line 7, in fail"), "{run:?}");
    assert!(run.stderr.ends_with("ValueError: raised in the library\n"), "{run:?}");
}

#[test]
fn libraries_are_found_beside_the_program_then_in_lib_directories() {
    let vessel = Vessel::new();
    std::fs::create_dir(vessel.path().join("shelf")).unwrap();
    vessel.write("shelf/where.py", "place = 'shelf'\n");
    let program = "from where import place\nif callfunc == 'initialize':\n    print(place)\n";
    let run = vessel.run(program, &["--lib", "shelf"], &[]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), "shelf\n"), "{run:?}");
    vessel.write("where.py", "place = 'beside'\n");
    let run = vessel.run(program, &["--lib", "shelf"], &[]);
    assert_eq!((run.status, run.stdout.as_str()), (Some(0), "beside\n"), "{run:?}");
}

#[test]
fn missing_unsafe_cyclic_and_reserved_libraries_stop_the_program_before_it_runs() {
    let vessel = Vessel::new();
    vessel.write("sneaky.py", "def f():\n    return f.__globals__\n");
    vessel.write("ping.py", "import pong\n");
    vessel.write("pong.py", "import ping\n");
    vessel.write("sys.py", "x = 1\n");
    for (source, expected) in [
        ("print('ran')\nimport nowhere\n", "prog.py:2:8: no library 'nowhere': nowhere.py is not in '.' or among the built-in libraries"),
        ("print('ran')\nfrom sneaky import f\n", "sneaky.py:2:14: name '__globals__' is not allowed"),
        ("print('ran')\nimport ping\n", "pong.py:1:8: import cycle: ping -> pong -> ping"),
        ("print('ran')\nimport sys\n", "prog.py:2:8: cannot import 'sys': 'sys' is the name of a module the interpreter keeps for itself"),
    ] {
        let run = vessel.run(source, &[], &[]);
        assert_eq!((run.status, run.stdout.as_str()), (Some(3), ""), "{source:?}: {run:?}");
        assert!(run.stderr.starts_with(expected), "{source:?}: {run:?}");
        let check = repy_in(vessel.path(), &["check", "prog.py"]);
        assert_eq!((check.status, check.stderr.as_str()), (Some(3), run.stderr.as_str()), "{source:?}");
    }
}

#[test]
fn code_strings_import_only_what_the_program_loaded() {
    let vessel = Vessel::new();
    vessel.write("greet.py", GREET);
    vessel.write("other.py", "x = 1\n");
    let run = vessel.run(
        "import greet\nif callfunc == 'initialize':\n    ns = VirtualNamespace('from greet import hello\\nr = hello(\"ns\")', 'code')\n    \
         print(ns.evaluate({})['r'])\n    try:\n        VirtualNamespace('import other', 'code')\n    except CodeUnsafeError as e:\n        \
         print(e)\n",
        &[],
        &[],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "hello ns from a library run 1 time(s), callfunc import\nVirtualNamespace: code:1:8: no library 'other' was loaded with the program\n"
    );
}

#[test]
fn repy_test_finds_the_libraries_beside_a_test() {
    let vessel = Vessel::new();
    vessel.write("greet.py", GREET);
    vessel.write(
        "ut_greet.py",
        "#pragma out hello t from a library\nfrom greet import hello\nif callfunc == 'initialize':\n    print(hello('t'))\n",
    );
    let run = repy_in(vessel.path(), &["test", "."]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(run.stdout.contains("1 passed, 0 failed"), "{run:?}");
}

#[test]
fn fleet_uploads_a_programs_libraries_with_it() {
    let bed = Testbed::up(1, 1, "60000-60499");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("greet.py"), GREET).unwrap();
    let program = dir.path().join("hello_lib.py");
    std::fs::write(&program, "from greet import hello\nif callfunc == 'initialize':\n    print(hello(callargs[0]))\n").unwrap();
    let program = program.display().to_string();
    let out = bed.fleet(&["upload", &program]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("uploaded hello_lib.py greet.py"), "{}", text(&out.stdout));
    let out = bed.fleet(&["run", "--timeout", "60", &program, "{vessel}"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("/v1: hello v1 from a library run 1 time(s), callfunc import"), "{}", text(&out.stdout));
    // A program whose library is missing is refused before any node is contacted.
    std::fs::remove_file(dir.path().join("greet.py")).unwrap();
    let out = bed.fleet(&["run", &program]);
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("hello_lib.py:1:6: no library 'greet'"), "{}", text(&out.stderr));
}
