//! Why a vessel was ended, and how the vessel tells whoever started it.
//!
//! The person running `repy run` reads the reason on stderr (`repy: terminated: ...`). A
//! program that starts `repy run` (the node manager) instead names a file in
//! [`REPORT_VAR`]: the vessel writes one line there, [`Termination::encode`]d, before it
//! ends, and the starter [`read_report`]s it afterwards. The worker and its supervisor both
//! write to the same file (the first line wins), so a memory limit hit in the worker and a
//! disk limit found by the supervisor arrive the same way, and nobody searches stderr.

use std::{
    fmt::{self, Write as _},
    fs::{File, OpenOptions},
    io::{self, Write as _},
    path::Path,
    sync::OnceLock,
};

use crate::status::ExitStatus;

/// Environment variable naming the termination report file.
pub const REPORT_VAR: &str = "REPY_TERMINATION_REPORT";

/// Why the host ended a vessel (every case exits with [`ExitStatus::Resource`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Termination {
    /// An allocation would have taken the live heap over `memory` (restrictions.md §4.3).
    MemoryLimit { limit: u64 },
    /// The vessel directory went over `diskused` (restrictions.md §4.4).
    DiskLimit { used: u64, limit: u64 },
    /// The host refused a thread or process the vessel needed (nodemanager.md's ThreadErr).
    ThreadErr { detail: String },
}

impl Termination {
    /// The exit status that goes with every termination.
    pub const STATUS: ExitStatus = ExitStatus::Resource;

    /// The record's one line (no newline): `memory LIMIT`, `disk USED LIMIT` or
    /// `threaderr DETAIL`.
    pub fn encode(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Self::MemoryLimit { limit } => write!(out, "memory {limit}"),
            Self::DiskLimit { used, limit } => write!(out, "disk {used} {limit}"),
            Self::ThreadErr { detail } => write!(out, "threaderr {}", detail.replace(['\n', '\r'], " ")),
        }
    }

    /// Parses a line written by [`encode`](Self::encode).
    pub fn decode(line: &str) -> Result<Self, String> {
        let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
        let number = |text: Option<&str>| text.and_then(|t| t.parse::<u64>().ok());
        let mut fields = rest.split(' ');
        let decoded = match kind {
            "memory" => number(fields.next()).map(|limit| Self::MemoryLimit { limit }),
            "disk" => number(fields.next()).zip(number(fields.next())).map(|(used, limit)| Self::DiskLimit { used, limit }),
            "threaderr" => Some(Self::ThreadErr { detail: rest.to_owned() }),
            _ => None,
        };
        decoded.ok_or_else(|| format!("not a termination record: '{}'", line.chars().take(80).collect::<String>()))
    }

    /// What the person running the vessel reads on stderr (with a newline).
    pub fn message(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str("repy: terminated: ")?;
        match self {
            Self::MemoryLimit { limit } => write!(out, "memory limit exceeded (limit {limit} bytes)")?,
            Self::DiskLimit { used, limit } => write!(out, "disk limit exceeded (used {used} bytes, limit {limit} bytes)")?,
            Self::ThreadErr { detail } => write!(out, "ThreadErr: {detail}")?,
        }
        out.write_char('\n')
    }

    /// Reports this termination and explains it on stderr; the caller then exits with
    /// [`STATUS`](Self::STATUS). For a process that has no output of its own to go through.
    pub fn announce(&self) {
        report(self);
        eprint!("{}", self.message_string());
    }

    /// [`message`](Self::message) as a string.
    pub fn message_string(&self) -> String {
        let mut text = String::new();
        let _ = self.message(&mut text);
        text
    }
}

/// The report file of this process, opened by [`open_report`].
static REPORT: OnceLock<File> = OnceLock::new();

/// Opens the report file named in [`REPORT_VAR`], if any, so that [`report`] can later write
/// without allocating (it may be called from the allocator's limit hook). Call it early,
/// while one thread runs. An error names the file.
pub fn open_report() -> Result<(), String> {
    let Some(path) = std::env::var_os(REPORT_VAR) else { return Ok(()) };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open the termination report '{}' ({REPORT_VAR}): {e}", Path::new(&path).display()))?;
    let _ = REPORT.set(file);
    Ok(())
}

/// Records `termination` in the report file, if one is open. Does not allocate for
/// [`Termination::MemoryLimit`] and [`Termination::DiskLimit`].
pub fn report(termination: &Termination) {
    let Some(mut file) = REPORT.get() else { return };
    let mut line = StackLine::<256>::new();
    let _ = termination.encode(&mut line);
    let _ = line.write_char('\n');
    let _ = file.write_all(line.as_bytes());
    let _ = file.flush();
}

/// The first termination recorded in the report file at `path`: None when the file is
/// missing or empty (the vessel ended without a termination), an error when it cannot be
/// read or holds something else.
pub fn read_report(path: &Path) -> Result<Option<Termination>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the termination report '{}': {e}", path.display())),
    };
    match text.lines().next() {
        None => Ok(None),
        Some(line) => Termination::decode(line).map(Some).map_err(|e| format!("{}: {e}", path.display())),
    }
}

/// A line formatted on the stack: what is written past `N` bytes is dropped.
pub struct StackLine<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> StackLine<N> {
    pub const fn new() -> Self {
        Self { bytes: [0; N], len: 0 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> Default for StackLine<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for StackLine<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let take = s.len().min(room);
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(t: &Termination) -> String {
        let mut s = String::new();
        t.encode(&mut s).unwrap();
        s
    }

    #[test]
    fn every_termination_round_trips() {
        for t in [
            Termination::MemoryLimit { limit: 1 << 30 },
            Termination::DiskLimit { used: 10_000, limit: 4096 },
            Termination::ThreadErr { detail: "the host refused a new thread (Resource temporarily unavailable)".into() },
        ] {
            assert_eq!(Termination::decode(&encoded(&t)).unwrap(), t);
        }
    }

    #[test]
    fn a_thread_err_detail_stays_on_one_line() {
        let t = Termination::ThreadErr { detail: "a\nb".into() };
        assert_eq!(encoded(&t), "threaderr a b");
    }

    #[test]
    fn messages_are_those_users_read() {
        assert_eq!(
            Termination::MemoryLimit { limit: 1000 }.message_string(),
            "repy: terminated: memory limit exceeded (limit 1000 bytes)\n"
        );
        assert_eq!(
            Termination::DiskLimit { used: 9, limit: 8 }.message_string(),
            "repy: terminated: disk limit exceeded (used 9 bytes, limit 8 bytes)\n"
        );
        assert_eq!(Termination::ThreadErr { detail: "x".into() }.message_string(), "repy: terminated: ThreadErr: x\n");
    }

    #[test]
    fn garbage_is_refused_with_the_line() {
        for line in ["", "memory", "memory x", "disk 1", "cpu 5"] {
            let e = Termination::decode(line).unwrap_err();
            assert!(e.contains(&format!("'{line}'")), "{e}");
        }
    }

    #[test]
    fn read_report_takes_the_first_line_and_treats_missing_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.ended");
        assert_eq!(read_report(&path).unwrap(), None);
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_report(&path).unwrap(), None);
        std::fs::write(&path, "disk 5 4\nmemory 3\n").unwrap();
        assert_eq!(read_report(&path).unwrap(), Some(Termination::DiskLimit { used: 5, limit: 4 }));
        std::fs::write(&path, "nonsense\n").unwrap();
        assert!(read_report(&path).unwrap_err().contains("v1.ended"));
    }

    #[test]
    fn a_stack_line_truncates_instead_of_growing() {
        let mut line = StackLine::<4>::new();
        line.write_str("abcdef").unwrap();
        assert_eq!(line.as_bytes(), b"abcd");
    }
}
