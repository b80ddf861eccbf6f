//! Disk use of a vessel (restrictions.md §4.4): Σ (size + 4096) over the regular files
//! directly in the vessel directory. The 4096 per file stops a program from hiding data in
//! many small (or empty) files.

use std::{io, path::Path};

/// What each regular file costs on top of its size.
pub const PER_FILE_OVERHEAD: u64 = 4096;

/// Σ (size + [`PER_FILE_OVERHEAD`]) over the regular files directly in `dir`.
///
/// Symbolic links are not followed and, like directories and other special files, are not
/// counted (the API cannot create any of them). A file that disappears while the directory
/// is being read is skipped: the scan races with the running program.
pub fn vessel_disk_usage(dir: &Path) -> io::Result<u64> {
    vessel_disk_usage_except(dir, None)
}

/// [`vessel_disk_usage`] without the file named `except` (one about to be replaced).
pub fn vessel_disk_usage_except(dir: &Path, except: Option<&str>) -> io::Result<u64> {
    let mut total: u64 = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if except.is_some_and(|name| entry.file_name() == name) {
            continue;
        }
        // `DirEntry::file_type` and `DirEntry::metadata` describe the entry itself, never
        // the target of a symlink.
        let metadata = match entry.file_type() {
            Ok(kind) if kind.is_file() => match entry.metadata() {
                Ok(metadata) => metadata,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            },
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        total = total.saturating_add(metadata.len()).saturating_add(PER_FILE_OVERHEAD);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn counts_regular_files_only_with_per_file_overhead() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("a.txt"), vec![b'a'; 10]).unwrap();
        fs::write(d.join("b.bin"), vec![0u8; 5000]).unwrap();
        fs::write(d.join("empty"), b"").unwrap();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub").join("nested"), vec![1u8; 100_000]).unwrap();
        #[cfg(unix)]
        {
            // Both a link to a counted file and one pointing outside must cost nothing.
            std::os::unix::fs::symlink(d.join("b.bin"), d.join("link")).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", d.join("outside")).unwrap();
        }
        assert_eq!(vessel_disk_usage(d).unwrap(), 10 + 5000 + 3 * 4096);
    }

    #[test]
    fn a_file_about_to_be_replaced_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        fs::write(dir.path().join("b"), [0u8; 20]).unwrap();
        assert_eq!(vessel_disk_usage_except(dir.path(), Some("a")).unwrap(), 20 + 4096);
    }

    #[test]
    fn empty_directory_is_zero_and_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(vessel_disk_usage(dir.path()).unwrap(), 0);
        assert!(vessel_disk_usage(&dir.path().join("missing")).is_err());
    }
}
