//! Files confined to the vessel directory (repy-api.md §6): `open`, `listdir`, `removefile`
//! and file objects. Only regular files directly inside the directory exist for a program;
//! every read and write is charged, and a write that would take the directory over
//! `diskused` ends the vessel before it happens.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Seek, SeekFrom, Write},
    sync::Arc,
};

use parking_lot::Mutex;
use repy_contract::{disk, file_name, termination::Termination};
use repy_interpreter::{
    exceptions::RepyErrorKind,
    values::{byte_data, byte_str, exact_int, exact_str, is_exact},
};
use repy_policy::Resource;
use rustpython_vm::{
    builtins::{PyList, PyTuple},
    function::FuncArgs,
    protocol::PyIterReturn,
    pyclass,
    types::{IterNext, SelfIter},
    Py, PyObjectRef, PyPayload, PyResult, VirtualMachine,
};

use crate::{call::Call, runtime::Runtime};

fn file_name(call: &Call, value: &PyObjectRef) -> PyResult<String> {
    let name = exact_str(value, call.vm).ok_or_else(|| call.arg_error("filename must be a str"))?;
    match file_name::problem(&name) {
        Some(problem) => Err(call.arg_error(problem)),
        None => Ok(name),
    }
}

/// Whether `name` is a regular file in the vessel directory (links and directories are not).
fn is_regular_file(name: &str) -> bool {
    fs::symlink_metadata(name).is_ok_and(|m| m.file_type().is_file())
}

fn disk_used() -> u64 {
    std::env::current_dir().ok().and_then(|d| disk::vessel_disk_usage(&d).ok()).unwrap_or(0)
}

/// Ends the vessel if growing the directory by `growth` bytes would exceed `diskused`.
fn check_disk_growth(rt: &Runtime, growth: u64) {
    if growth == 0 {
        return;
    }
    let limit = rt.restrictions.value(Resource::Diskused).whole_units();
    let used = disk_used();
    if used + growth > limit {
        rt.terminate(Termination::DiskLimit { used: used + growth, limit });
    }
}

fn io_error(rt: &Runtime, vm: &VirtualMachine, function: &str, name: &str, e: io::Error) -> rustpython_vm::builtins::PyBaseExceptionRef {
    match e.kind() {
        io::ErrorKind::NotFound => rt.error(vm, RepyErrorKind::FileNotFound, format!("{function}: file '{name}' does not exist")),
        _ => rt.error(vm, RepyErrorKind::File, format!("{function}: file '{name}': {}", e.kind())),
    }
}

/// Opens the host file without following a link planted under the name.
fn open_options(create: bool, truncate: bool, write: bool) -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(write || create).create(create).truncate(truncate);
    repy_portability::nofollow::refuse_links(&mut options);
    options
}

api_function! {
    /// Opens a file of the vessel directory (mode r, r+, w, w+, a, a+; b and t ignored).
    fn open(call, filename; mode) {
        let (rt, vm) = (call.rt, call.vm);
        let name = file_name(&call, &filename)?;
        let mode_text = match mode {
            None => "r".to_owned(),
            Some(m) => exact_str(&m, vm).ok_or_else(|| call.arg_error("mode must be a str"))?,
        };
        let mode: String = mode_text.chars().filter(|c| !matches!(c, 'b' | 't')).collect();
        let (needs_existing, create, truncate, append, writable) = match mode.as_str() {
            "r" => (true, false, false, false, false),
            "r+" => (true, false, false, false, true),
            "w" | "w+" => (false, true, true, false, true),
            "a" | "a+" => (false, true, false, true, true),
            _ => return Err(call.arg_error(format!("mode '{mode_text}' is not one of r, r+, w, w+, a, a+"))),
        };
        call.check_rules()?;
        let exists = is_regular_file(&name);
        let will_create = create && !exists;
        let s = |t: &str| -> PyObjectRef { vm.ctx.new_str(t).into() };
        if will_create {
            rt.check_call_args(vm, "file.__init__", &[s(&name), s("wb")])?;
        }
        rt.check_call_args(vm, "file.__init__", &[s(&name), s(if writable { "r+b" } else { "rb" })])?;
        if needs_existing && !exists {
            return Err(call.error(RepyErrorKind::FileNotFound, format!("file '{name}' does not exist")));
        }
        if !exists && fs::symlink_metadata(&name).is_ok() {
            return Err(call.error(RepyErrorKind::FileNotFound, format!("'{name}' is not a regular file")));
        }
        if !rt.open_files.claim(&name) {
            return Err(call.error(RepyErrorKind::FileInUse, format!("file '{name}' is already open")));
        }
        if let Err(exhausted) = call.acquire_reclaiming(Resource::Filesopened) {
            rt.open_files.release(&name);
            return Err(exhausted);
        }
        if will_create {
            check_disk_growth(rt, disk::PER_FILE_OVERHEAD);
        }
        match open_options(create, truncate, writable).open(&name) {
            Ok(mut file) => {
                if append {
                    let _ = file.seek(SeekFrom::End(0));
                }
                let object = FileObject { rt: rt.clone(), name, writable, file: Mutex::new(Some(file)) };
                Ok(object.into_ref(&vm.ctx).into())
            }
            Err(e) => {
                rt.open_files.release(&name);
                rt.nanny.release(Resource::Filesopened);
                Err(io_error(rt, vm, call.name, &name, e))
            }
        }
    }
}

api_function! {
    /// The names of the regular files in the vessel directory, sorted.
    fn listdir(call) {
        call.check_rules()?;
        let mut names: Vec<String> = fs::read_dir(".")
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| file_name::is_valid(n))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let vm = call.vm;
        Ok(vm.ctx.new_list(names.into_iter().map(|n| vm.ctx.new_str(n).into()).collect()).into())
    }
}

api_function! {
    /// Removes a file that is not open.
    fn removefile(call, filename) {
        let name = file_name(&call, &filename)?;
        call.check_rules()?;
        if !is_regular_file(&name) {
            return Err(call.error(RepyErrorKind::FileNotFound, format!("file '{name}' does not exist")));
        }
        if call.rt.open_files.is_open(&name) {
            return Err(call.error(RepyErrorKind::FileInUse, format!("file '{name}' is open")));
        }
        fs::remove_file(&name).map_err(|e| io_error(call.rt, call.vm, call.name, &name, e))?;
        Ok(call.vm.ctx.none())
    }
}

/// A file object: only the methods of §6.
#[pyclass(module = false, name = "file")]
#[derive(PyPayload)]
pub struct FileObject {
    rt: Arc<Runtime>,
    name: String,
    writable: bool,
    file: Mutex<Option<File>>,
}

impl std::fmt::Debug for FileObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "file '{}'", self.name)
    }
}

impl Drop for FileObject {
    fn drop(&mut self) {
        self.release();
    }
}

impl FileObject {
    /// Closes the host file and gives back its units; true the first time.
    fn release(&self) -> bool {
        if self.file.lock().take().is_none() {
            return false;
        }
        self.rt.open_files.release(&self.name);
        self.rt.nanny.release(Resource::Filesopened);
        true
    }

    fn closed(&self, vm: &VirtualMachine, method: &str) -> rustpython_vm::builtins::PyBaseExceptionRef {
        self.rt.error(vm, RepyErrorKind::FileClosed, format!("{method}: file '{}' is closed", self.name))
    }

    /// Runs `op` on the open host file, or raises FileClosedError.
    fn with_file<T>(&self, vm: &VirtualMachine, method: &str, op: impl FnOnce(&mut File) -> io::Result<T>) -> PyResult<T> {
        let mut guard = self.file.lock();
        let file = guard.as_mut().ok_or_else(|| self.closed(vm, method))?;
        op(file).map_err(|e| io_error(&self.rt, vm, method, &self.name, e))
    }

    fn ensure_open(&self, vm: &VirtualMachine, method: &str) -> PyResult<()> {
        if self.file.lock().is_none() {
            return Err(self.closed(vm, method));
        }
        Ok(())
    }

    /// A `size` argument: exact int; negative means "to the end". Another type is a
    /// TypeError, as for Python's (and Seattle's) file objects.
    fn size_arg(call: &Call, value: Option<PyObjectRef>) -> PyResult<Option<usize>> {
        match value {
            None => Ok(None),
            Some(v) => {
                let n = exact_int(&v, call.vm)
                    .ok_or_else(|| call.vm.new_type_error(format!("{}: size must be an int, not {}", call.name, v.class().name())))?;
                Ok(usize::try_from(n).ok())
            }
        }
    }

    /// Reads through the next newline (or `limit` bytes); the bytes, without charging.
    fn read_line(file: &mut File, limit: Option<usize>) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while limit.is_none_or(|l| line.len() < l) {
            if file.read(&mut byte)? == 0 {
                break;
            }
            line.push(byte[0]);
            if byte[0] == b'\n' {
                break;
            }
        }
        Ok(line)
    }

    /// A read-side operation: call rule, wait, read, charge `fileread`.
    fn charged_read<T>(&self, call: &Call, op: impl FnOnce(&mut File) -> io::Result<(T, usize)>) -> PyResult<T> {
        self.ensure_open(call.vm, call.name)?;
        call.check_rules()?;
        call.wait_for(Resource::Fileread)?;
        let (value, bytes) = self.with_file(call.vm, call.name, op)?;
        call.charge(Resource::Fileread, bytes as f64)?;
        Ok(value)
    }

    /// A write: call rule, then pieces as `filewrite` grants them, each checked against
    /// the disk limit before it is written.
    fn write_bytes(&self, call: &Call, data: &[u8]) -> PyResult<()> {
        self.ensure_open(call.vm, call.name)?;
        if !self.writable {
            return Err(call.arg_error(format!("file '{}' was not opened for writing", self.name)));
        }
        call.check_rules()?;
        if data.is_empty() {
            return call.wait_for(Resource::Filewrite);
        }
        call.in_pieces(Resource::Filewrite, data.len(), 1, |done, most| {
            let piece = &data[done..done + most];
            self.with_file(call.vm, call.name, |file| {
                let position = file.stream_position()?;
                let size = file.metadata()?.len();
                check_disk_growth(&self.rt, (position + piece.len() as u64).saturating_sub(size));
                file.write_all(piece)
            })?;
            Ok(piece.len())
        })?;
        Ok(())
    }
}

#[pyclass(with(IterNext))]
impl FileObject {
    #[pymethod]
    fn close(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<()> {
        zelf.rt.check_call_args(vm, "file.close", &[])?;
        zelf.release();
        Ok(())
    }

    #[pymethod]
    fn flush(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<()> {
        zelf.ensure_open(vm, "file.flush")?;
        zelf.rt.check_call_args(vm, "file.flush", &[])
    }

    #[pymethod]
    fn read(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        let (call, [], [size]) = Call::bind("file.read", [], ["size"], &zelf.rt, vm, args)?;
        let size = Self::size_arg(&call, size)?;
        zelf.ensure_open(vm, call.name)?;
        call.check_rules()?;
        // What the read can return, read in the pieces `fileread` grants.
        let left = zelf.with_file(vm, call.name, |file| Ok(file.metadata()?.len().saturating_sub(file.stream_position()?)))?;
        let total = usize::try_from(left).unwrap_or(usize::MAX).min(size.unwrap_or(usize::MAX));
        let mut data = Vec::new();
        if total == 0 {
            call.wait_for(Resource::Fileread)?;
        }
        call.in_pieces(Resource::Fileread, total, 1, |_, most| {
            zelf.with_file(vm, call.name, |file| file.take(most as u64).read_to_end(&mut data))
        })?;
        Ok(byte_str(vm, &data))
    }

    #[pymethod]
    fn readline(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        let (call, [], [size]) = Call::bind("file.readline", [], ["size"], &zelf.rt, vm, args)?;
        let size = Self::size_arg(&call, size)?;
        let line = zelf.charged_read(&call, |file| {
            let line = Self::read_line(file, size)?;
            let len = line.len();
            Ok((line, len))
        })?;
        Ok(byte_str(vm, &line))
    }

    #[pymethod]
    fn readlines(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        let (call, [], [sizehint]) = Call::bind("file.readlines", [], ["sizehint"], &zelf.rt, vm, args)?;
        let hint = Self::size_arg(&call, sizehint)?.filter(|&h| h > 0);
        let lines = zelf.charged_read(&call, |file| {
            let mut lines = Vec::new();
            let mut total = 0;
            loop {
                let line = Self::read_line(file, None)?;
                if line.is_empty() {
                    break;
                }
                total += line.len();
                lines.push(line);
                if hint.is_some_and(|h| total >= h) {
                    break;
                }
            }
            Ok((lines, total))
        })?;
        Ok(vm.ctx.new_list(lines.iter().map(|l| byte_str(vm, l)).collect()).into())
    }

    #[pymethod]
    fn next(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult {
        match zelf.next_line(vm)? {
            Some(line) => Ok(line),
            None => Err(vm.new_stop_iteration(None)),
        }
    }

    #[pymethod]
    fn seek(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        let (call, [offset], [whence]) = Call::bind("file.seek", ["offset"], ["whence"], &zelf.rt, vm, args)?;
        let offset = exact_int(&offset, vm).ok_or_else(|| call.arg_error("offset must be an int"))?;
        let whence = match whence {
            None => 0,
            Some(w) => exact_int(&w, vm).filter(|w| (0..=2).contains(w)).ok_or_else(|| call.arg_error("whence must be 0, 1 or 2"))?,
        };
        zelf.ensure_open(vm, call.name)?;
        call.check_rules()?;
        let target = zelf.with_file(vm, call.name, |file| {
            let base = match whence {
                0 => 0,
                1 => file.stream_position()? as i64,
                _ => file.metadata()?.len() as i64,
            };
            Ok(base.checked_add(offset))
        })?;
        match target {
            Some(position) if position >= 0 => zelf.with_file(vm, call.name, |file| file.seek(SeekFrom::Start(position as u64)).map(drop)),
            _ => Err(call.arg_error(format!("position would be negative (offset {offset}, whence {whence})"))),
        }
    }

    #[pymethod]
    fn write(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        let (call, [data], []) = Call::bind("file.write", ["data"], [], &zelf.rt, vm, args)?;
        let data = byte_data(&data, vm).map_err(|m| call.arg_error(m))?;
        zelf.write_bytes(&call, &data)
    }

    #[pymethod]
    fn writelines(zelf: &Py<Self>, args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        let (call, [lines], []) = Call::bind("file.writelines", ["lines"], [], &zelf.rt, vm, args)?;
        let items: Vec<PyObjectRef> = if is_exact::<PyList>(&lines, vm) {
            lines.downcast_ref::<PyList>().expect("exact").borrow_vec().to_vec()
        } else if is_exact::<PyTuple>(&lines, vm) {
            lines.downcast_ref::<PyTuple>().expect("exact").as_slice().to_vec()
        } else {
            return Err(call.arg_error("lines must be a list or tuple"));
        };
        let mut data = Vec::new();
        for (i, item) in items.iter().enumerate() {
            data.extend(byte_data(item, vm).map_err(|m| call.arg_error(format!("item {i}: {m}")))?);
        }
        zelf.write_bytes(&call, &data)
    }

    #[pymethod]
    fn __enter__(zelf: rustpython_vm::PyRef<Self>, vm: &VirtualMachine) -> PyResult<rustpython_vm::PyRef<Self>> {
        zelf.ensure_open(vm, "file.__enter__")?;
        Ok(zelf)
    }

    #[pymethod]
    fn __exit__(zelf: &Py<Self>, _args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        Self::close(zelf, vm)
    }
}

impl FileObject {
    fn next_line(&self, vm: &VirtualMachine) -> PyResult<Option<PyObjectRef>> {
        let (call, [], []) = Call::bind("file.next", [], [], &self.rt, vm, FuncArgs::default())?;
        let line = self.charged_read(&call, |file| {
            let line = Self::read_line(file, None)?;
            let len = line.len();
            Ok((line, len))
        })?;
        Ok((!line.is_empty()).then(|| byte_str(vm, &line)))
    }

    /// What `print(..., file=f)` writes: text through `write()` (checked and charged).
    pub fn write_text(&self, vm: &VirtualMachine, text: &str) -> PyResult<()> {
        let text: PyObjectRef = vm.ctx.new_str(text).into();
        let data = byte_data(&text, vm).map_err(|m| self.rt.arg_error(vm, format!("print: {m}")))?;
        let (call, [_], []) =
            Call::bind("file.write", ["data"], [], &self.rt, vm, FuncArgs::new(vec![text], rustpython_vm::function::KwArgs::default()))?;
        self.write_bytes(&call, &data)
    }
}

impl SelfIter for FileObject {}

impl IterNext for FileObject {
    fn next(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<PyIterReturn> {
        Ok(match zelf.next_line(vm)? {
            Some(line) => PyIterReturn::Return(line),
            None => PyIterReturn::StopIteration(None),
        })
    }
}
