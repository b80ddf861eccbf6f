//! The names of the files a vessel has open: a file may be open only once, and an open
//! file cannot be removed (repy-api.md §6).

use std::collections::HashSet;

use parking_lot::Mutex;

#[derive(Default)]
pub struct OpenFiles(Mutex<HashSet<String>>);

impl OpenFiles {
    /// Marks `name` open; false if it already is.
    pub fn claim(&self, name: &str) -> bool {
        self.0.lock().insert(name.to_owned())
    }

    pub fn release(&self, name: &str) {
        self.0.lock().remove(name);
    }

    pub fn is_open(&self, name: &str) -> bool {
        self.0.lock().contains(name)
    }
}
