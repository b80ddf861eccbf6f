//! The program's output streams. Each write is atomic and flushed at once, so nothing is
//! lost when the process ends abruptly (exitall, an uncaught exception, a resource kill).

use std::io::Write;

use parking_lot::Mutex;

use repy_contract::{log::CircularLog, status::ExitStatus};

pub struct Output {
    /// Serialises writers and holds the optional circular log.
    inner: Mutex<Option<CircularLog>>,
}

#[derive(Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Output {
    pub fn new(log: Option<CircularLog>) -> Self {
        Self { inner: Mutex::new(log) }
    }

    pub fn write(&self, stream: Stream, data: &[u8]) {
        let mut log = self.inner.lock();
        Self::write_locked(&mut log, stream, data);
    }

    fn write_locked(log: &mut Option<CircularLog>, stream: Stream, data: &[u8]) {
        // A closed or broken stream must not kill the program: output is best effort.
        let _ = match stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(data).and_then(|_| out.flush())
            }
            Stream::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(data).and_then(|_| err.flush())
            }
        };
        if let Some(log) = log.as_mut() {
            let _ = log.append(data);
        }
    }

    /// Writes a last message (if any) and ends the process with `code` while holding the
    /// output lock, so no other thread's output can follow it.
    pub fn finish(&self, stream: Stream, data: &[u8], status: ExitStatus) -> ! {
        let mut log = self.inner.lock();
        if !data.is_empty() {
            Self::write_locked(&mut log, stream, data);
        }
        repy_portability::process::exit_now(status.code())
    }
}

/// Most bytes of the uncaught-exception report written when a program dies. It goes out
/// uncharged (the program is ending, waiting for `lograte` would keep it alive), so its
/// size is bounded instead: a 5 MB exception message is cut in the middle, keeping the
/// start of the traceback and the end of the last line.
pub const MAX_REPORT_BYTES: usize = 16 << 10;

/// `report`, cut to at most [`MAX_REPORT_BYTES`] (plus the note saying what was left out).
pub fn bounded_report(report: String) -> String {
    if report.len() <= MAX_REPORT_BYTES {
        return report;
    }
    let half = MAX_REPORT_BYTES / 2;
    let head = (0..=half).rev().find(|&i| report.is_char_boundary(i)).unwrap_or(0);
    let tail = (report.len() - half..report.len()).find(|&i| report.is_char_boundary(i)).unwrap_or(report.len());
    format!("{}\n[... {} bytes left out ...]\n{}", &report[..head], tail - head, &report[tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_report_keeps_its_start_and_its_end() {
        let report = format!("Traceback (most recent call last):\nException: {}é!\n", "x".repeat(5_000_000));
        let cut = bounded_report(report.clone());
        assert!(cut.len() <= MAX_REPORT_BYTES + 64, "{}", cut.len());
        assert!(cut.starts_with("Traceback (most recent call last):\nException: xxx"));
        assert!(cut.ends_with("xxé!\n"));
        assert!(cut.contains(&format!("[... {} bytes left out ...]", report.len() - MAX_REPORT_BYTES)));
        assert_eq!(bounded_report("short\n".into()), "short\n");
    }
}
