//! The files of api/ import each other without a circle: state types (runtime, network,
//! open files, registrations) never import the calls that use them.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Module path (`["net", "udp"]`) of every source file under `src`.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            found.insert(parts, path);
        }
    }
    found
}

/// Every path of a `use` tree: `a::{b, c::{d}}` gives `a::b` and `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else { return vec![tree.to_owned()] };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.rfind('}').unwrap()]);
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).flat_map(|p| expand(p)).map(|p| format!("{prefix}{p}")).collect()
}

/// The `crate::`/`super::` paths of a file: those of its `use` trees and those written inline.
fn paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let line_start = rest[..at].rfind('\n').map_or(0, |n| n + 1);
        let prefix = rest[line_start..at].trim();
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if prefix.is_empty() || prefix.starts_with("pub") {
            let tree: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
            found.extend(expand(&tree));
        }
        rest = &after[end.min(after.len())..];
    }
    found.extend(text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).map(str::to_owned));
    found
}

/// The modules a file names (the longest module each path reaches), the file's own module
/// and its ancestors left out.
fn imports(module: &[String], text: &str, known: &BTreeMap<Vec<String>, PathBuf>) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for path in paths(text) {
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let (mut base, rest): (Vec<String>, &[&str]) = match segments.first() {
            Some(&"crate") => (vec![], &segments[1..]),
            // `super` of a module is its parent.
            Some(&"super") => (module[..module.len().saturating_sub(1)].to_vec(), &segments[1..]),
            _ => continue,
        };
        let mut reached = None;
        for segment in rest {
            base.push(segment.to_string());
            if known.contains_key(&base) {
                reached = Some(base.clone());
            }
        }
        if let Some(target) = reached.filter(|t| !module.starts_with(t)) {
            out.insert(target);
        }
    }
    out
}

#[test]
fn api_files_import_each_other_without_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> =
        known.iter().map(|(module, path)| (module.clone(), imports(module, &fs::read_to_string(path).unwrap(), &known))).collect();
    // Depth-first search; a module met again while on the stack closes a circle.
    fn visit(
        module: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|m| m == module) {
            let mut circle: Vec<String> = stack[start..].iter().map(|m| m.join("::")).collect();
            circle.push(module.join("::"));
            return Some(circle);
        }
        if !done.insert(module.clone()) {
            return None;
        }
        stack.push(module.clone());
        for next in &graph[module] {
            if let Some(circle) = visit(next, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle in api/src: {}", circle.join(" -> "));
        }
    }
    // The check sees imports at all: the calls do import the runtime.
    let module = |m: &str| m.split("::").map(str::to_owned).collect::<Vec<_>>();
    assert!(graph[&module("net::udp")].contains(&module("runtime")), "{:?}", graph[&module("net::udp")]);
    assert!(graph[&module("runtime")].contains(&module("net")), "{:?}", graph[&module("runtime")]);
}
