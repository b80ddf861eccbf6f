//! The vessel contract: everything that `repy run`'s worker, its supervisor, the node manager
//! and the fleet client must agree on, in one place, so that no process re-derives it.
//!
//! | module | agreement |
//! |---|---|
//! | [`status`] | the exit statuses of cli.md, as one enum |
//! | [`termination`] | why a vessel was ended (memory, disk, ThreadErr), reported by the vessel to whoever started it as a typed record, not as text to search for |
//! | [`file_name`] | which names are Repy file names (repy-api.md §6, nodemanager.md §5) |
//! | [`disk`] | what a vessel directory costs against `diskused` (restrictions.md §4.4) |
//! | [`log`] | the circular log's files and size (repy-api.md §3) |
//! | [`args`] | how many arguments a vessel's program takes, and how long they may be |
//!
//! It depends on nothing but `std`: every crate of the workspace may use it.

pub mod args;
pub mod disk;
pub mod file_name;
pub mod fuzzing;
pub mod log;
pub mod status;
pub mod termination;
