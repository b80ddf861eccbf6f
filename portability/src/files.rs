//! Creating files whose permissions matter (the node manager's private keys).

use std::{
    fs::{File, OpenOptions},
    io,
    path::Path,
};

/// Creates `path` for writing, failing if it exists. Unix: with permission bits `mode`
/// (less the umask). Windows has no such bits: the file takes the access list its directory
/// passes on, so a private file belongs in a directory only its owner can read.
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}
