//! `repy-bare FILE`: the reference for the sandbox-overhead benchmark (`bench/compare.py`).
//!
//! Runs FILE on the same RustPython build the project embeds (workspace `rustpython-vm`,
//! created by the same `interpreter::sandbox::new_interpreter`) with nothing
//! of the sandbox around it: no static check, no builtin whitelist, no supervisor process,
//! no resource accounting. The only builtin it adds is a plain `print` (the VM is built
//! without the `stdio` feature, so `sys.stdout` is `None`), which writes one line per call.

use std::io::Write;
use std::process::ExitCode;

use rustpython_vm::{compiler::Mode, function::FuncArgs, PyResult, VirtualMachine};

fn print(args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
    let mut sep = " ".to_owned();
    let mut end = "\n".to_owned();
    for (name, value) in &args.kwargs {
        if vm.is_none(value) {
            continue;
        }
        let text = value.str(vm)?.as_wtf8().to_string_lossy().into_owned();
        match name.to_string_lossy().as_ref() {
            "sep" => sep = text,
            "end" => end = text,
            _ => {}
        }
    }
    let mut text = String::new();
    for (i, object) in args.args.iter().enumerate() {
        if i > 0 {
            text.push_str(&sep);
        }
        text.push_str(&object.str(vm)?.as_wtf8().to_string_lossy());
    }
    text.push_str(&end);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    Ok(())
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: repy-bare FILE");
        return ExitCode::from(2);
    };
    let source = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("repy-bare: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    // The very interpreter `repy run` creates, before any of the sandbox is added to it.
    let interpreter = repy_interpreter::sandbox::new_interpreter();
    let ok = interpreter.enter(|vm| {
        let print_fn = vm.new_function("print", print);
        if vm.builtins.set_attr("print", print_fn, vm).is_err() {
            return false;
        }
        let code = match vm.compile(&source, Mode::Exec, path.clone()) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("repy-bare: {e}");
                return false;
            }
        };
        let scope = vm.new_scope_with_builtins();
        match vm.run_code_obj(code, scope) {
            Ok(_) => true,
            Err(exc) => {
                let mut text = String::new();
                let _ = vm.write_exception(&mut text, &exc);
                eprint!("{text}");
                false
            }
        }
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
