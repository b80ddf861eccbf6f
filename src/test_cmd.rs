//! `repy test [PATH]...` (cli.md): runs the `ut_*.py` test programs under each PATH, each
//! as a child `repy run` in its own temporary vessel, in parallel, and compares their output
//! with the `#pragma out` / `#pragma error` lines.
//!
//! Details the specification leaves open, decided here:
//! * PATH may be a directory (searched recursively; directories whose name starts with `.`
//!   and symbolic links to directories are skipped) or a `ut_*.py` file. A test's name is
//!   its path relative to the PATH argument (its file name when PATH is the file itself),
//!   with `/` separators. A missing PATH is a usage error (exit 2); finding no test is not
//!   (a note on stderr, then `0 passed, 0 failed`).
//! * A pragma line is `#pragma KIND ...` after optional indentation; a KIND other than
//!   `repy`, `out`, `error`, or a second `repy` line, fails the test naming the line.
//! * Without a `#pragma repy` line the test runs on the default profile without arguments.
//!   The first token of `#pragma repy` is the restrictions file when a file of that name
//!   exists beside the test; otherwise every token is an argument. Tokens are separated by
//!   white space (no quoting).
//! * `<port>` is another name for `<port1>`. Placeholders are replaced in the test program
//!   (and so in its pragma lines) and in its restrictions file.
//! * The vessel holds copies of the regular files beside the test except `ut_*.py` files
//!   (other tests); the program itself is kept beside the vessel, not in it, so `listdir()`
//!   shows only the data files. The child runs `repy run --restrictions R --cwd vessel
//!   ut_NAME.py ARGS` from the directory holding the vessel, so tracebacks name the test's
//!   file name. Its libraries are found beside the test (`--lib` with the test's directory,
//!   then the `--lib` directories of `repy test`), then among the built-in ones.
//! * Each non-empty `out`/`error` text must be a substring of a line after the line matched by
//!   the previous text of the same stream. With an `error` pragma any exit status is
//!   accepted; the texts decide.
//! * Results are printed in name order as soon as every earlier test has finished.

mod ports;
mod pragma;

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc,
    },
    thread,
    time::{Duration, Instant},
};

use clap::Args;
use repy_contract::status::ExitStatus;
use repy_portability::child::{repy_command, signal_group, spawn_supervised, Signal};

/// At most this many bytes of each stream are kept per test.
const KEPT_OUTPUT: usize = 1 << 20;
/// At most this many lines of a stream are shown under a FAIL line.
const SHOWN_LINES: usize = 40;

#[derive(Args)]
pub struct TestArgs {
    /// Seconds after which a test that has not ended is killed and fails.
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_timeout, allow_negative_numbers = true)]
    timeout: f64,
    /// A directory to find libraries in after the test's own (repeatable).
    #[arg(long = "lib", value_name = "DIR")]
    lib_dirs: Vec<PathBuf>,
    /// Directories to search for `ut_*.py` tests, or test files (default: `.`).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(s),
        _ => Err(format!("'{text}' is not a number of seconds greater than 0")),
    }
}

/// One test found under a PATH.
struct TestCase {
    name: String,
    file: PathBuf,
}

/// How one test ended.
struct Outcome {
    passed: bool,
    /// The FAIL reason followed by the output that differs, or empty for PASS.
    why: String,
}

pub fn run(args: TestArgs) -> u8 {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    let mut tests = Vec::new();
    for path in &paths {
        match discover(path) {
            Ok(found) => tests.extend(found),
            Err(e) => {
                eprintln!("repy: {e}");
                return ExitStatus::Usage.into();
            }
        }
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("repy: cannot find the repy executable: {e}");
            return ExitStatus::Usage.into();
        }
    };
    if tests.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
        eprintln!("repy: no ut_*.py tests under {}", shown.join(", "));
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    // The child runs in another directory.
    let lib_dirs: Arc<Vec<PathBuf>> =
        Arc::new(args.lib_dirs.iter().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())).collect());
    let workers = thread::available_parallelism().map_or(1, |n| n.get()).min(tests.len().max(1));
    let tests = Arc::new(tests);
    let next = Arc::new(AtomicUsize::new(0));
    let (sender, receiver) = mpsc::channel::<(usize, Outcome)>();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (tests, next, sender, exe, lib_dirs) = (tests.clone(), next.clone(), sender.clone(), exe.clone(), lib_dirs.clone());
        // Each test's child is spawned from this thread, which waits for it: the child's
        // "die with parent" signal is tied to the spawning thread.
        handles.push(thread::spawn(move || loop {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(test) = tests.get(index) else { break };
            let outcome = run_test(&exe, test, &lib_dirs, timeout);
            if sender.send((index, outcome)).is_err() {
                break;
            }
        }));
    }
    drop(sender);
    let mut results: Vec<Option<Outcome>> = (0..tests.len()).map(|_| None).collect();
    let (mut printed, mut passed, mut failed) = (0, 0, 0);
    let mut report = |name: &str, outcome: &Outcome| {
        let mut out = std::io::stdout().lock();
        let _ = if outcome.passed {
            passed += 1;
            writeln!(out, "PASS {name}")
        } else {
            failed += 1;
            writeln!(out, "FAIL {name}: {}", outcome.why)
        };
        let _ = out.flush();
    };
    for (index, outcome) in receiver {
        results[index] = Some(outcome);
        while let Some(Some(outcome)) = results.get(printed) {
            report(&tests[printed].name, outcome);
            printed += 1;
        }
    }
    for handle in handles {
        let _ = handle.join();
    }
    // A test whose runner thread died without a result still gets its line.
    for (test, result) in tests.iter().zip(&results).skip(printed) {
        match result {
            Some(outcome) => report(&test.name, outcome),
            None => report(&test.name, &fail("internal error: the test runner stopped before reporting a result")),
        }
    }
    println!("{passed} passed, {failed} failed");
    u8::from(failed > 0)
}

/// The tests under `path`, sorted by name.
fn discover(path: &Path) -> Result<Vec<TestCase>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read test path '{}': {e}", path.display()))?;
    if meta.is_file() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !is_test_name(&name) {
            return Err(format!("'{}' is not a test program (test files are named ut_*.py)", path.display()));
        }
        return Ok(vec![TestCase { name, file: path.to_path_buf() }]);
    }
    let mut found = Vec::new();
    walk(path, path, &mut found)?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<TestCase>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list directory '{}': {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list directory '{}': {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // Symbolic links to directories are not followed (no loops); links to files are.
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if !name.starts_with('.') {
                walk(root, &path, found)?;
            }
        } else if is_test_name(&name) && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            found.push(TestCase { name, file: path });
        }
    }
    Ok(())
}

fn is_test_name(name: &str) -> bool {
    name.starts_with("ut_") && name.ends_with(".py") && name.len() > 6
}

fn fail(why: impl Into<String>) -> Outcome {
    Outcome { passed: false, why: why.into() }
}

/// Prepares the vessel, runs the test and judges its output.
fn run_test(exe: &Path, test: &TestCase, lib_dirs: &[PathBuf], timeout: Duration) -> Outcome {
    let source = match std::fs::read(&test.file) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format!("cannot read '{}': {e}", test.file.display())),
    };
    let folder = test.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let file_name = test.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Placeholders are found in the raw text; the pragmas are read after substitution so
    // that `#pragma repy r <port>` passes the same number the program sees.
    let text = String::from_utf8_lossy(&source).into_owned();
    let raw_pragmas = match pragma::parse(&text) {
        Ok(p) => p,
        Err(e) => return fail(format!("bad pragma: {e}")),
    };
    let raw_tokens = raw_pragmas.repy.clone().unwrap_or_default();
    let restrictions_file = raw_tokens.first().map(|t| folder.join(t)).filter(|p| p.is_file() && !is_python(p));
    let restrictions_text = match &restrictions_file {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) => return fail(format!("cannot read restrictions file '{}': {e}", path.display())),
        },
    };
    let mut numbers = ports::placeholders(&text);
    for n in restrictions_text.as_deref().map(ports::placeholders).unwrap_or_default() {
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    let port_map = match ports::allocate(&numbers) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let program = if port_map.is_empty() { source } else { ports::substitute(&text, &port_map).into_bytes() };
    let pragmas = match pragma::parse(&String::from_utf8_lossy(&program)) {
        Ok(p) => p,
        Err(e) => return fail(format!("bad pragma: {e}")),
    };
    let mut tokens = pragmas.repy.clone().unwrap_or_default();
    if restrictions_file.is_some() && !tokens.is_empty() {
        tokens.remove(0);
    }

    let work = match tempfile::Builder::new().prefix("repy-test-").tempdir() {
        Ok(dir) => dir,
        Err(e) => return fail(format!("cannot create a temporary directory: {e}")),
    };
    let vessel = work.path().join("vessel");
    if let Err(e) = std::fs::create_dir(&vessel).and_then(|()| copy_data_files(&folder, &test.file, &vessel)) {
        return fail(format!("cannot prepare the vessel: {e}"));
    }
    if let Err(e) = std::fs::write(work.path().join(&file_name), &program) {
        return fail(format!("cannot write the test program into the temporary directory: {e}"));
    }
    let mut command = repy_command(exe);
    command.arg("run");
    if let Some(text) = &restrictions_text {
        let substituted = ports::substitute(text, &port_map);
        let path = work.path().join("restrictions");
        if let Err(e) = std::fs::write(&path, substituted) {
            return fail(format!("cannot write the restrictions file into the temporary directory: {e}"));
        }
        command.arg("--restrictions").arg("restrictions");
    }
    // The test's libraries are those beside it (the program runs from a copy elsewhere).
    let own_dir = std::path::absolute(if folder.as_os_str().is_empty() { Path::new(".") } else { &folder }).unwrap_or_default();
    for dir in std::iter::once(&own_dir).chain(lib_dirs) {
        command.arg("--lib").arg(dir);
    }
    command.arg("--cwd").arg("vessel").arg(&file_name).args(&tokens);
    command.current_dir(work.path()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let run = match execute(command, timeout) {
        Ok(run) => run,
        Err(e) => return fail(format!("cannot start '{}': {e}", exe.display())),
    };
    judge(&pragmas, &run, timeout)
}

fn is_python(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
}

/// Copies the regular files beside `test` (except the test programs) into `vessel`.
fn copy_data_files(folder: &Path, test: &Path, vessel: &Path) -> std::io::Result<()> {
    let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if path == test || is_test_name(&name.to_string_lossy()) || !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        std::fs::copy(&path, vessel.join(&name))?;
    }
    Ok(())
}

/// What a child run produced.
struct RunResult {
    /// Exit status (128 + signal for a signal), or None when killed for the timeout.
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `command` in a process group of its own that dies with this process.
fn execute(mut command: Command, timeout: Duration) -> std::io::Result<RunResult> {
    let mut child = spawn_supervised(&mut command, true, true)?;
    let stdout = child.stdout.take().map(collect);
    let stderr = child.stderr.take().map(collect);
    let status = wait_with_timeout(&mut child, timeout);
    let text = |h: Option<thread::JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(RunResult { status, stdout: text(stdout), stderr: text(stderr) })
}

/// Reads a stream to its end, keeping at most [`KEPT_OUTPUT`] bytes.
fn collect(mut stream: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buffer = [0u8; 8192];
        let mut truncated = false;
        loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = KEPT_OUTPUT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buffer[..n.min(room)]);
                    truncated |= n > room;
                }
            }
        }
        let mut text = String::from_utf8_lossy(&kept).into_owned();
        if truncated {
            text.push_str("\n[output truncated]\n");
        }
        text
    })
}

/// Waits for the child; after `timeout` kills its whole process group and returns None.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status_code(status)),
            Ok(None) => {}
            Err(_) => break,
        }
        if started.elapsed() >= timeout {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = signal_group(child.id(), Signal::Kill);
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn status_code(status: std::process::ExitStatus) -> i32 {
    repy_contract::status::reported_code(status).unwrap_or(-1)
}

/// PASS or FAIL with the reasons and the output that differs.
fn judge(pragmas: &pragma::Pragmas, run: &RunResult, timeout: Duration) -> Outcome {
    let mut reasons = Vec::new();
    let mut shown: BTreeMap<&str, &str> = BTreeMap::new();
    match run.status {
        None => {
            reasons.push(format!("timed out after {} s (killed)", timeout.as_secs_f64()));
            shown.insert("stdout", &run.stdout);
            shown.insert("stderr", &run.stderr);
        }
        Some(status) => {
            if pragmas.error.is_none() && status != 0 {
                reasons.push(format!("exit status {status} (the test has no '#pragma error' line)"));
                shown.insert("stderr", &run.stderr);
            }
            if let Err(why) = pragma::check_stream("stdout", pragmas.out.as_deref(), &run.stdout) {
                reasons.push(why);
                shown.insert("stdout", &run.stdout);
            }
            if let Err(why) = pragma::check_stream("stderr", pragmas.error.as_deref(), &run.stderr) {
                reasons.push(why);
                shown.insert("stderr", &run.stderr);
            }
        }
    }
    if reasons.is_empty() {
        return Outcome { passed: true, why: String::new() };
    }
    let mut why = reasons.join("; ");
    for (stream, output) in shown {
        why.push_str(&format!("\n  {stream}:"));
        if output.is_empty() {
            why.push_str(" (empty)");
        }
        let lines: Vec<&str> = output.lines().collect();
        for line in lines.iter().take(SHOWN_LINES) {
            why.push_str(&format!("\n  | {line}"));
        }
        if lines.len() > SHOWN_LINES {
            why.push_str(&format!("\n  | ... {} more lines", lines.len() - SHOWN_LINES));
        }
    }
    Outcome { passed: false, why }
}
