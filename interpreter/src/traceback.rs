//! Tracebacks as a program author expects them: Python's format, but only frames of sandboxed
//! code (the program file and VirtualNamespace code), never interpreter internals.

use std::collections::{HashMap, HashSet};

use parking_lot::RwLock;
use rustpython_vm::{builtins::PyBaseException, AsObject, Py, VirtualMachine};

/// Source texts of sandboxed code by the name their code objects carry, so tracebacks can
/// show source lines and tell sandboxed frames from anything else.
#[derive(Default)]
pub struct SourceRegistry {
    sources: RwLock<HashMap<String, std::sync::Arc<Vec<String>>>>,
}

impl SourceRegistry {
    pub fn register(&self, name: &str, source: &str) {
        let lines = source.lines().map(str::to_owned).collect();
        self.sources.write().insert(name.to_owned(), std::sync::Arc::new(lines));
    }

    fn line(&self, name: &str, lineno: usize) -> Option<Option<String>> {
        let sources = self.sources.read();
        let lines = sources.get(name)?;
        Some(lineno.checked_sub(1).and_then(|i| lines.get(i)).map(|l| l.trim().to_owned()))
    }
}

/// Renders `exc` (with its cause/context chain) the way CPython prints an uncaught exception.
pub fn format_exception(vm: &VirtualMachine, exc: &Py<PyBaseException>, sources: &SourceRegistry) -> String {
    let mut out = String::new();
    let mut seen = HashSet::new();
    write_chain(vm, exc, sources, &mut out, &mut seen);
    out
}

fn write_chain(vm: &VirtualMachine, exc: &Py<PyBaseException>, sources: &SourceRegistry, out: &mut String, seen: &mut HashSet<usize>) {
    seen.insert(exc.get_id());
    let earlier = if let Some(cause) = exc.__cause__() {
        Some((cause, "\nThe above exception was the direct cause of the following exception:\n\n"))
    } else if suppresses_context(vm, exc) {
        None
    } else {
        exc.__context__().map(|c| (c, "\nDuring handling of the above exception, another exception occurred:\n\n"))
    };
    if let Some((earlier, joint)) = earlier {
        if !seen.contains(&earlier.get_id()) {
            write_chain(vm, &earlier, sources, out, seen);
            out.push_str(joint);
        }
    }
    write_one(vm, exc, sources, out);
}

fn write_one(vm: &VirtualMachine, exc: &Py<PyBaseException>, sources: &SourceRegistry, out: &mut String) {
    let mut entries = Vec::new();
    if let Some(tb) = exc.__traceback__() {
        for entry in tb.iter() {
            let code = entry.frame.f_code();
            let path = code.source_path().as_str();
            let lineno = entry.lineno.get();
            if let Some(line) = sources.line(path, lineno) {
                entries.push(format!("  File \"{path}\", line {lineno}, in {}\n", code.obj_name));
                if let Some(line) = line.filter(|l| !l.is_empty()) {
                    entries.push(format!("    {line}\n"));
                }
            }
        }
    }
    if !entries.is_empty() {
        out.push_str("Traceback (most recent call last):\n");
        entries.iter().for_each(|e| out.push_str(e));
    }
    out.push_str(&exception_summary(vm, exc));
    out.push('\n');
}

/// `ClassName: message` as the last line of a traceback.
pub fn exception_summary(vm: &VirtualMachine, exc: &Py<PyBaseException>) -> String {
    let name = exc.class().name().to_string();
    let message = match exc.as_object().str(vm) {
        Ok(s) => s.to_string(),
        Err(_) => "<exception str() failed>".to_owned(),
    };
    if message.is_empty() {
        name
    } else {
        format!("{name}: {message}")
    }
}

fn suppresses_context(vm: &VirtualMachine, exc: &Py<PyBaseException>) -> bool {
    exc.as_object().get_attr("__suppress_context__", vm).and_then(|v| v.try_to_bool(vm)).unwrap_or(false)
}
