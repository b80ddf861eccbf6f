//! The size-bounded circular log of `--logfile PATH` (repy-api.md §3): output is appended to
//! `PATH.new`; when that reaches 16384 bytes it replaces `PATH.old` and a new `PATH.new`
//! begins. Readers concatenate `.old` + `.new` and keep the last 16384 bytes.
//!
//! Both files are opened once, when the log opens, and rotated through those descriptors
//! (the tail of `.new` copied over `.old`, then `.new` emptied) rather than by renaming:
//! the worker's kernel wall (Landlock) then needs no right at all on the log's directory,
//! which the node manager shares between vessels. A reader sees the same tail at every
//! step of a rotation, as `.new` holds at least [`LOG_CAPACITY`] bytes until it is emptied.

use std::{
    fs::{File, OpenOptions},
    io::{self, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

/// Size at which `PATH.new` is rotated, and the amount a reader keeps.
pub const LOG_CAPACITY: u64 = 16384;

pub struct CircularLog {
    /// `PATH.new`, appended to (and read back at rotation).
    new: File,
    /// `PATH.old`, written only at rotation.
    old: File,
    size: u64,
}

/// What follows the base name of the older and the newer file.
pub const SUFFIXES: [&str; 2] = [".old", ".new"];

fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The files of the log whose base is `base`: `[base.old, base.new]`.
pub fn files(base: &Path) -> [PathBuf; 2] {
    SUFFIXES.map(|suffix| with_suffix(base, suffix))
}

/// The base name of a log file's name (`v1.log.new` → `v1.log`), if it is one.
pub fn base_of(file_name: &str) -> Option<&str> {
    SUFFIXES.iter().find_map(|suffix| file_name.strip_suffix(suffix))
}

impl CircularLog {
    /// Opens (appending to) the log whose files are `base.old` and `base.new`, creating
    /// both.
    pub fn open(base: &Path) -> io::Result<Self> {
        let [old_path, new_path] = files(base);
        let new = OpenOptions::new().create(true).read(true).append(true).open(&new_path)?;
        let old = OpenOptions::new().create(true).write(true).truncate(false).open(&old_path)?;
        let size = new.metadata()?.len();
        Ok(Self { new, old, size })
    }

    pub fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.new.write_all(data)?;
        self.size += data.len() as u64;
        if self.size >= LOG_CAPACITY {
            self.rotate()?;
        }
        Ok(())
    }

    /// `.old` becomes the last [`LOG_CAPACITY`] bytes of `.new` (all a reader keeps), then
    /// `.new` starts empty.
    fn rotate(&mut self) -> io::Result<()> {
        let mut tail = Vec::with_capacity(LOG_CAPACITY as usize);
        self.new.seek(SeekFrom::Start(self.size.saturating_sub(LOG_CAPACITY)))?;
        (&self.new).take(LOG_CAPACITY).read_to_end(&mut tail)?;
        self.old.seek(SeekFrom::Start(0))?;
        self.old.write_all(&tail)?;
        self.old.set_len(tail.len() as u64)?;
        self.new.set_len(0)?;
        self.size = 0;
        Ok(())
    }
}

/// The last [`LOG_CAPACITY`] bytes of `base.old` + `base.new` (empty if neither exists).
pub fn read_log(base: &Path) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    for path in files(base) {
        match File::open(path) {
            Ok(mut f) => {
                f.read_to_end(&mut data)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let keep = data.len().saturating_sub(LOG_CAPACITY as usize);
    Ok(data.split_off(keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_capacity_and_reader_keeps_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("v1.log");
        let mut log = CircularLog::open(&base).unwrap();
        let line = [b'x'; 1000];
        for i in 0..40u8 {
            let mut chunk = line.to_vec();
            chunk[0] = i;
            log.append(&chunk).unwrap();
        }
        assert!(with_suffix(&base, ".old").exists());
        let tail = read_log(&base).unwrap();
        assert_eq!(tail.len(), LOG_CAPACITY as usize);
        // The newest chunk is last.
        assert_eq!(tail[tail.len() - 1000], 39);
    }

    #[test]
    fn rotation_uses_the_open_files_alone() {
        // The log's directory moves after the log opened: rotation still lands in its files,
        // so the worker's kernel wall needs no right on that directory.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let mut log = CircularLog::open(&dir.path().join("a/log")).unwrap();
        std::fs::rename(dir.path().join("a"), dir.path().join("b")).unwrap();
        log.append(b"first\n").unwrap();
        log.append(&[b'y'; 3 * LOG_CAPACITY as usize]).unwrap();
        log.append(b"last\n").unwrap();
        let base = dir.path().join("b/log");
        assert_eq!(std::fs::metadata(with_suffix(&base, ".old")).unwrap().len(), LOG_CAPACITY, "only what a reader keeps");
        let tail = read_log(&base).unwrap();
        assert!(tail.ends_with(b"ylast\n"), "the newest bytes are last");
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn file_names_and_their_base() {
        let [old, new] = files(Path::new("logs/v1.log"));
        assert_eq!((old, new), (PathBuf::from("logs/v1.log.old"), PathBuf::from("logs/v1.log.new")));
        assert_eq!(base_of("v1.log.new"), Some("v1.log"));
        assert_eq!(base_of("v1.log"), None);
    }

    #[test]
    fn reopening_appends() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("log");
        CircularLog::open(&base).unwrap().append(b"one\n").unwrap();
        CircularLog::open(&base).unwrap().append(b"two\n").unwrap();
        assert_eq!(read_log(&base).unwrap(), b"one\ntwo\n");
    }
}
