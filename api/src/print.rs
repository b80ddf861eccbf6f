//! The sandbox `print` (repy-api.md §3): flushed writes charged to `lograte` before they
//! are made (one write per call up to one second's worth), checked against the
//! `log.write` call rule.

use std::sync::Arc;

use repy_interpreter::values::exact_str;
use repy_policy::Resource;
use rustpython_vm::{function::FuncArgs, PyResult, VirtualMachine};

use crate::{
    call::{ApiFunction, Call},
    output::Stream,
    runtime::Runtime,
};

/// `print(*objects, sep=" ", end="\n", file=None, flush=False)`. It takes any number of
/// positional arguments, so it binds its keywords itself instead of through `api_function!`.
#[allow(non_upper_case_globals)]
pub const print: ApiFunction = ApiFunction {
    name: "print",
    params: &["sep", "end", "file", "flush"],
    required: 0,
    doc: "Writes the objects' str(), separated by `sep` and followed by `end`, to stdout or `file`.\n",
    run: print_objects,
};

fn print_objects(rt: &Arc<Runtime>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    let mut sep = " ".to_owned();
    let mut target = None;
    let mut end = "\n".to_owned();
    for (name, value) in &args.kwargs {
        let text_option = |what: &str| -> PyResult<Option<String>> {
            if vm.is_none(value) {
                return Ok(None);
            }
            exact_str(value, vm).map(Some).ok_or_else(|| rt.arg_error(vm, format!("print: {what} must be None or a string")))
        };
        match name.to_string_lossy().as_ref() {
            "sep" => sep = text_option("sep")?.unwrap_or_else(|| " ".to_owned()),
            "end" => end = text_option("end")?.unwrap_or_else(|| "\n".to_owned()),
            "flush" => {}
            "file" => {
                if !vm.is_none(value) {
                    if value.downcast_ref::<crate::file::FileObject>().is_none() {
                        return Err(rt.arg_error(vm, "print: file must be None or a writable Repy file object"));
                    }
                    target = Some(value.clone());
                }
            }
            other => return Err(rt.arg_error(vm, format!("print: unexpected keyword argument '{other}'"))),
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
    if let Some(file) = target {
        return file.downcast_ref::<crate::file::FileObject>().expect("checked above").write_text(vm, &text).map(|_| vm.ctx.none());
    }
    rt.check_call_args(vm, "log.write", &[vm.ctx.new_str(text.as_str()).into()])?;
    // Up to one second's worth of `lograte` is one write; a longer text comes out in
    // pieces at the rate, each a whole number of characters.
    let call = Call::unbound("print", rt, vm);
    call.in_pieces(Resource::Lograte, text.len(), MAX_CHAR_BYTES, |done, most| {
        let end = piece_end(&text, done, most);
        rt.output.write(Stream::Stdout, &text.as_bytes()[done..end]);
        Ok(end - done)
    })?;
    Ok(vm.ctx.none())
}

/// Bytes of the longest UTF-8 character: the smallest piece of text worth writing.
const MAX_CHAR_BYTES: usize = 4;

/// The end of the piece of `text` from byte `start` that holds at most `most` bytes, at a
/// character boundary (at least one character).
fn piece_end(text: &str, start: usize, most: usize) -> usize {
    let limit = (start + most).min(text.len());
    match (start + 1..=limit).rev().find(|&i| text.is_char_boundary(i)) {
        Some(end) => end,
        None => (start + 1..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::piece_end;

    #[test]
    fn pieces_end_at_character_boundaries() {
        let text = "aé€😀b";
        assert_eq!(piece_end(text, 0, 1), 1);
        assert_eq!(piece_end(text, 1, 2), 3, "é is two bytes");
        assert_eq!(piece_end(text, 1, 4), 3, "é fits, € does not");
        assert_eq!(piece_end(text, 3, 1), 6, "at least one character, even one longer than the piece");
        assert_eq!(piece_end(text, 6, 100), text.len());
    }
}
