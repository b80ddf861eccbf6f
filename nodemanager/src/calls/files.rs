//! A vessel's files, as its users see them through the node manager: add, list, retrieve,
//! delete, and the vessel's log.

use std::{fs, io::Read};

use base64::{engine::general_purpose::STANDARD, Engine};
use repy_contract::{disk, file_name, log};
use repy_portability::nofollow;
use serde_json::json;

use super::Outcome;
use crate::{
    frame::base64_len,
    node::{internal, Node},
    protocol::check_filename,
    request::{err, Code, NmError},
    state,
};

impl Node {
    /// Stores the file by renaming a new one into place: a symbolic link of that name is
    /// replaced, never followed (its target is untouched).
    pub(super) fn add_file(&mut self, vessel: &str, filename: &str, data: &str) -> Result<Outcome, NmError> {
        check_filename(filename)?;
        let limit = self.config.max_file_bytes;
        if data.len() > base64_len(limit) {
            return err(Code::FileTooLarge, format!("file '{filename}' is over the transfer limit of {limit} bytes"));
        }
        let bytes = STANDARD
            .decode(data)
            .map_err(|e| NmError::new(Code::BadArguments, format!("'data' of file '{filename}' is not valid base64: {e}")))?;
        if bytes.len() > limit {
            return err(
                Code::FileTooLarge,
                format!("file '{filename}' has {} bytes, over the transfer limit of {limit} bytes", bytes.len()),
            );
        }
        let dir = self.layout.vessel_dir(vessel);
        let used = disk::vessel_disk_usage_except(&dir, Some(filename)).map_err(|e| internal("measuring disk use", e))?;
        let restrictions = self.read_restrictions(vessel)?;
        let quota = restrictions.value(repy_policy::Resource::Diskused).whole_units();
        let after = used + bytes.len() as u64 + disk::PER_FILE_OVERHEAD;
        if after > quota {
            return err(
                Code::DiskQuota,
                format!(
                    "file '{filename}' ({} bytes) would bring vessel {vessel} to {after} bytes, over its diskused of {quota}",
                    bytes.len()
                ),
            );
        }
        state::write_atomic(&self.layout.tmp(), &dir.join(filename), &bytes).map_err(|e| internal("writing a vessel file", e))?;
        Ok((json!({}), None))
    }

    pub(super) fn list_files(&self, vessel: &str) -> Result<Outcome, NmError> {
        let dir = self.layout.vessel_dir(vessel);
        let mut files = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| internal("listing a vessel", e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if file_name::user_problem(&name).is_none() && entry.metadata().is_ok_and(|m| m.is_file()) {
                files.push(name);
            }
        }
        files.sort();
        Ok((json!({"files": files}), None))
    }

    /// Only a regular file directly in the vessel directory: a symbolic link (which
    /// ListFilesInVessel does not show either) is never followed, whatever it points at.
    pub(super) fn retrieve_file(&self, vessel: &str, filename: &str) -> Result<Outcome, NmError> {
        check_filename(filename)?;
        let path = self.layout.vessel_dir(vessel).join(filename);
        let no_such_file = || err(Code::NoSuchFile, format!("vessel {vessel} has no file '{filename}'"));
        let Some(mut file) = nofollow::open_regular_file(&path).map_err(|e| internal("opening a vessel file", e))? else {
            return no_such_file();
        };
        let size = file.metadata().map_err(|e| internal("reading a vessel file", e))?.len();
        let limit = self.config.max_file_bytes;
        if size > limit as u64 {
            return err(Code::FileTooLarge, format!("file '{filename}' has {size} bytes, over the transfer limit of {limit}"));
        }
        // Read at most one byte over the limit: the file may grow while it is read.
        let mut data = Vec::with_capacity(size as usize);
        (&mut file).take(limit as u64 + 1).read_to_end(&mut data).map_err(|e| internal("reading a vessel file", e))?;
        if data.len() > limit {
            return err(Code::FileTooLarge, format!("file '{filename}' grew over the transfer limit of {limit} bytes while read"));
        }
        Ok((json!({"data": STANDARD.encode(data)}), None))
    }

    /// Only a regular file: a symbolic link is not a file of the vessel (`NoSuchFile`).
    pub(super) fn delete_file(&self, vessel: &str, filename: &str) -> Result<Outcome, NmError> {
        check_filename(filename)?;
        let dir = self.layout.vessel_dir(vessel);
        let path = dir.join(filename);
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return err(Code::NoSuchFile, format!("vessel {vessel} has no file '{filename}'"));
        }
        fs::remove_file(&path).map_err(|e| internal("deleting a vessel file", e))?;
        let _ = state::sync_dir(&dir);
        Ok((json!({}), None))
    }

    pub(super) fn read_log(&self, vessel: &str) -> Result<Outcome, NmError> {
        let data = log::read_log(&self.layout.log_base(vessel)).map_err(|e| internal("reading a log", e))?;
        Ok((json!({"log": String::from_utf8_lossy(&data)}), None))
    }
}
