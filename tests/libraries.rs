//! The built-in libraries of `lib/`: their Repy test suite (`tests/lib`, run by `repy test`
//! with no `--lib`, so the libraries come from the binary) and their documentation.

mod common;

use std::path::Path;

use common::repy_in;

/// The libraries and their tests, by name: a new one must be added here, tested and documented.
const LIBRARIES: &[&str] = &["clock", "peersampling", "rpc", "serialize", "udpretry"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn names_in(dir: &str, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".py"))
        .map(|n| n[prefix.len()..n.len() - 3].to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_library_has_a_test_and_the_library_suite_passes() {
    assert_eq!(names_in("lib", ""), LIBRARIES);
    let tests = names_in("tests/lib", "ut_");
    assert_eq!(tests, LIBRARIES, "one ut_NAME.py per library");
    let run = repy_in(root(), &["test", "tests/lib"]);
    assert_eq!(run.status, Some(0), "{run:?}");
    for name in &tests {
        assert!(run.stdout.lines().any(|l| l == format!("PASS ut_{name}.py")), "no PASS line for ut_{name}.py: {run:?}");
    }
    assert_eq!(run.stdout.lines().last(), Some(format!("{} passed, 0 failed", LIBRARIES.len()).as_str()), "{run:?}");
}

#[test]
fn every_public_function_and_class_of_a_library_is_documented() {
    let docs = std::fs::read_to_string(root().join("docs/lib.md")).unwrap();
    for library in LIBRARIES {
        assert!(docs.contains(&format!("## `{library}`")), "docs/lib.md has no section for {library}");
        let source = std::fs::read_to_string(root().join(format!("lib/{library}.py"))).unwrap();
        for line in source.lines() {
            let name = match line.strip_prefix("def ").or_else(|| line.strip_prefix("class ")) {
                Some(rest) => rest.split(['(', ':']).next().unwrap_or(""),
                None => continue,
            };
            if !name.starts_with('_') {
                assert!(docs.contains(&format!("`{name}")), "docs/lib.md does not document {library}.{name}");
            }
        }
    }
}

#[test]
fn the_examples_of_docs_lib_md_pass_the_check() {
    let docs = std::fs::read_to_string(root().join("docs/lib.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in docs.lines() {
        match (current.as_mut(), line) {
            (None, "```python") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(text), _) => text.push_str(&format!("{line}\n")),
            (None, _) => {}
        }
    }
    assert_eq!(blocks.len(), LIBRARIES.len(), "one example per library");
    let dir = tempfile::tempdir().unwrap();
    for (n, block) in blocks.iter().enumerate() {
        let name = format!("example{n}.py");
        std::fs::write(dir.path().join(&name), block).unwrap();
        let run = repy_in(dir.path(), &["check", &name]);
        assert_eq!(run.status, Some(0), "{block}{run:?}");
    }
}
