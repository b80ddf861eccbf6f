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
