//! Opening a file only if it is a regular file itself, never through a symbolic link: for
//! the node manager, which reads vessel files on behalf of remote users and must not be led
//! outside the vessel directory by a link planted in it.

use std::{
    fs::{File, OpenOptions},
    io,
    path::Path,
};

/// Makes `options` open a symbolic link planted under the name itself rather than its target
/// (Unix `O_NOFOLLOW`, which refuses the open; Windows `FILE_FLAG_OPEN_REPARSE_POINT`, which
/// opens the link, not what it names). Replaces any custom flags set before.
pub fn refuse_links(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
}

/// Win32's FILE_FLAG_OPEN_REPARSE_POINT.
#[cfg(windows)]
const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// Opens `path` for reading if its last component is a regular file, not a symbolic link
/// (which is not followed), directory, FIFO or device; `Ok(None)` if there is no such file.
/// The check and the open are one: the file is examined through the handle that was opened.
pub fn open_regular_file(path: &Path) -> io::Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_OPEN_REPARSE_POINT: open a link itself (then refused below as not a file).
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // What O_NOFOLLOW answers for a symbolic link (ELOOP; EMLINK on FreeBSD).
        #[cfg(unix)]
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::EMLINK)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() || metadata.file_type().is_symlink() {
        return Ok(None);
    }
    Ok(Some(file))
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn only_regular_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "host secret").unwrap();
        std::fs::write(dir.path().join("plain"), "data").unwrap();
        std::os::unix::fs::symlink(&secret, dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("missing", dir.path().join("dangling")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let fifo = std::ffi::CString::new(dir.path().join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

        let mut text = String::new();
        open_regular_file(&dir.path().join("plain")).unwrap().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "data");
        for name in ["link", "dangling", "sub", "fifo", "absent"] {
            assert!(open_regular_file(&dir.path().join(name)).unwrap().is_none(), "{name}");
        }
    }
}
