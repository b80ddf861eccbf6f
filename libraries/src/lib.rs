//! Libraries for Repy programs. `import NAME` (or `from NAME import ...`) names the file
//! `NAME.py`, looked for in the importing program's own directory, then in each `--lib`
//! directory, then among the built-in libraries (the repository's `lib/`, compiled in).
//!
//! Everything is found and checked before the program starts, as the program itself is: a
//! library that is missing, unsafe or part of an import cycle stops the program with the
//! file, line and column of the problem, and nothing runs. The same resolution tells `repy
//! fleet` which files to upload with a program.

use std::path::{Path, PathBuf};

use repy_interpreter::check::{check_program, format_violations, Checked, Import};

mod built_in {
    include!(concat!(env!("OUT_DIR"), "/built_in.rs"));
}

/// The built-in libraries: (name, source), sorted by name.
pub fn built_in() -> &'static [(&'static str, &'static str)] {
    built_in::BUILT_IN
}

/// Where a library was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    BuiltIn,
}

/// One library a program needs, checked.
#[derive(Clone, Debug)]
pub struct Library {
    /// The import name (`rpc`).
    pub name: String,
    pub origin: Origin,
    pub source: String,
}

impl Library {
    /// The file it is stored as in a vessel, next to the program: `NAME.py`.
    pub fn file_name(&self) -> String {
        file_name(&self.name)
    }

    /// What tracebacks and error messages call it: its path, or `<built-in>/NAME.py`.
    pub fn shown(&self) -> String {
        match &self.origin {
            Origin::File(path) => path.display().to_string(),
            Origin::BuiltIn => format!("<built-in>/{}", self.file_name()),
        }
    }
}

fn file_name(name: &str) -> String {
    format!("{name}.py")
}

/// The directories searched before the built-in libraries, in order.
#[derive(Clone, Debug, Default)]
pub struct SearchPath {
    dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// The program's own directory, then `lib_dirs`.
    pub fn for_program(program: &Path, lib_dirs: &[PathBuf]) -> SearchPath {
        let own = match program.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut dirs = vec![own];
        dirs.extend(lib_dirs.iter().cloned());
        SearchPath { dirs }
    }

    fn find(&self, name: &str) -> Option<(Origin, Result<Vec<u8>, String>)> {
        let file = file_name(name);
        for dir in &self.dirs {
            let path = if dir == Path::new(".") { PathBuf::from(&file) } else { dir.join(&file) };
            if path.is_file() {
                let bytes = std::fs::read(&path).map_err(|e| format!("cannot read library '{}': {e}", path.display()));
                return Some((Origin::File(path), bytes));
            }
        }
        let (_, source) = built_in().iter().find(|(n, _)| *n == name)?;
        Some((Origin::BuiltIn, Ok(source.as_bytes().to_vec())))
    }

    fn describe(&self) -> String {
        let dirs: Vec<String> = self.dirs.iter().map(|d| format!("'{}'", d.display())).collect();
        format!("{} or among the built-in libraries", dirs.join(", "))
    }
}

/// Modules the interpreter has built in, which it imports for itself (`sys` to report an
/// exception nothing caught): a library of one of these names would be handed to the VM's
/// own machinery. Names starting with `_` are refused as well. api's tests hold this list
/// against the VM's `sys.builtin_module_names`.
pub const RESERVED_NAMES: &[&str] =
    &["atexit", "builtins", "errno", "gc", "itertools", "marshal", "nt", "posix", "pwd", "sys", "time", "winreg"];

/// Why `name` cannot be a library's name, if it cannot: it must be stored as a vessel file
/// (`NAME.py`, lowercase) that vessel users may add, and must not be the interpreter's own.
pub fn name_problem(name: &str) -> Option<String> {
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some(format!("library names start with a lowercase letter ('{name}')"));
    }
    if RESERVED_NAMES.contains(&name) {
        return Some(format!("'{name}' is the name of a module the interpreter keeps for itself"));
    }
    repy_contract::file_name::user_problem(&file_name(name))
}

/// Finds and checks every library `checked` (the program called `program_name`) imports,
/// and theirs in turn. Returns them with each library before those that import it; or every
/// problem, one `FILE:LINE:COL: reason` line each.
pub fn resolve(program_name: &str, checked: &Checked, search: &SearchPath) -> Result<Vec<Library>, Vec<String>> {
    let mut resolver = Resolver { search, found: Vec::new(), importing: vec![program_name.to_owned()], problems: Vec::new() };
    resolver.imports_of(program_name, &checked.imports);
    if resolver.problems.is_empty() {
        Ok(resolver.found)
    } else {
        Err(resolver.problems)
    }
}

struct Resolver<'a> {
    search: &'a SearchPath,
    found: Vec<Library>,
    /// The chain of imports being followed (the program first), to refuse cycles.
    importing: Vec<String>,
    problems: Vec<String>,
}

impl Resolver<'_> {
    fn imports_of(&mut self, file: &str, imports: &[Import]) {
        for import in imports {
            let at = format!("{file}:{}:{}", import.line, import.col);
            if self.found.iter().any(|l| l.name == import.name) {
                continue;
            }
            if let Some(start) = self.importing.iter().position(|n| *n == import.name) {
                let mut cycle = self.importing[start..].to_vec();
                cycle.push(import.name.clone());
                self.problems.push(format!("{at}: import cycle: {}", cycle.join(" -> ")));
                continue;
            }
            if let Some(problem) = name_problem(&import.name) {
                self.problems.push(format!("{at}: cannot import '{}': {problem}", import.name));
                continue;
            }
            let Some((origin, bytes)) = self.search.find(&import.name) else {
                let wanted = file_name(&import.name);
                self.problems.push(format!("{at}: no library '{}': {wanted} is not in {}", import.name, self.search.describe()));
                continue;
            };
            let library = Library { name: import.name.clone(), origin, source: String::new() };
            let shown = library.shown();
            let checked = match bytes {
                Err(e) => {
                    self.problems.push(format!("{at}: {e}"));
                    continue;
                }
                Ok(bytes) => match check_program(&bytes) {
                    Ok(checked) => checked,
                    Err(violations) => {
                        self.problems.extend(format_violations(&shown, &violations));
                        continue;
                    }
                },
            };
            self.importing.push(import.name.clone());
            self.imports_of(&shown, &checked.imports);
            self.importing.pop();
            self.found.push(Library { source: checked.text, ..library });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program_in(dir: &Path, source: &str) -> Result<Vec<Library>, Vec<String>> {
        let path = dir.join("main.py");
        std::fs::write(&path, source).unwrap();
        let checked = check_program(source.as_bytes()).unwrap();
        resolve("main.py", &checked, &SearchPath::for_program(&path, &[]))
    }

    #[test]
    fn libraries_are_found_beside_the_program_dependencies_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.py"), "from a import x\n").unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
        let found = program_in(dir.path(), "import b\nimport a\n").unwrap();
        let names: Vec<&str> = found.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(found[0].origin, Origin::File(dir.path().join("a.py")));
        assert_eq!(found[0].source, "x = 1\n");
    }

    #[test]
    fn a_lib_directory_is_searched_after_the_programs_own() {
        let (dir, lib) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(lib.path().join("a.py"), "x = 'lib'\n").unwrap();
        let path = dir.path().join("main.py");
        let checked = check_program(b"import a\n").unwrap();
        let search = SearchPath::for_program(&path, &[lib.path().to_path_buf()]);
        assert_eq!(resolve("main.py", &checked, &search).unwrap()[0].source, "x = 'lib'\n");
        std::fs::write(dir.path().join("a.py"), "x = 'own'\n").unwrap();
        assert_eq!(resolve("main.py", &checked, &search).unwrap()[0].source, "x = 'own'\n");
    }

    #[test]
    fn missing_unsafe_and_cyclic_libraries_are_named_with_positions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.py"), "y = 1\nz = y.__class__\n").unwrap();
        std::fs::write(dir.path().join("c1.py"), "import c2\n").unwrap();
        std::fs::write(dir.path().join("c2.py"), "x = 1\nimport c1\n").unwrap();
        let problems = program_in(dir.path(), "import os\nimport bad\nimport c1\nimport Upper\n").unwrap_err();
        assert!(problems[0].starts_with("main.py:1:8: no library 'os': os.py is not in '"), "{problems:?}");
        let bad = dir.path().join("bad.py").display().to_string();
        assert!(problems[1].starts_with(&format!("{bad}:2:7: ")), "{problems:?}");
        let c2 = dir.path().join("c2.py").display().to_string();
        assert_eq!(problems[2], format!("{c2}:2:8: import cycle: c1 -> c2 -> c1"));
        assert!(problems[3].contains("main.py:4:8: cannot import 'Upper': library names start with a lowercase letter"), "{problems:?}");
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn built_in_libraries_pass_the_check() {
        for (name, source) in built_in() {
            assert!(name_problem(name).is_none(), "{name}");
            if let Err(v) = check_program(source.as_bytes()) {
                panic!("{:?}", format_violations(&format!("lib/{name}.py"), &v));
            }
        }
    }
}
