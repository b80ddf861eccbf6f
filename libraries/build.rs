//! Compiles the repository's `lib/*.py` into the binary as the built-in libraries, so that
//! `import rpc` works wherever `repy` runs (a vessel holds only the files uploaded to it).

use std::{env, fs, path::PathBuf};

fn main() {
    let lib = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../lib");
    println!("cargo:rerun-if-changed={}", lib.display());
    let mut entries: Vec<(String, PathBuf)> = fs::read_dir(&lib)
        .map(|dir| {
            dir.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "py"))
                .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), fs::canonicalize(&p).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let mut table = String::from("/// (name, source) of every built-in library, by name.\npub const BUILT_IN: &[(&str, &str)] = &[\n");
    for (name, path) in &entries {
        println!("cargo:rerun-if-changed={}", path.display());
        table.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    table.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("built_in.rs");
    fs::write(out, table).expect("OUT_DIR is writable");
}
