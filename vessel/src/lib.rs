//! Running one vessel: what `repy run` does, as a library the command line calls (and that
//! `repy test` and the node manager reach through `repy run`, so no one re-implements a part).
//!
//! | module | job |
//! |---|---|
//! | [`run`] | the order of things: restrictions, program check, worker start, limits, lifecycle |
//! | [`program`] | reading a program and checking it before anything runs |
//! | [`restrictions_file`] | reading a restrictions file, errors naming file and line |
//! | [`supervisor`] | the worker's supervisor: CPU throttle, disk rescan, how the worker ended |
//! | [`heap`] | the process's counting allocator and its memory limit |
//! | `wall` | the worker's kernel wall, raised after set-up (and the debug builds' probe hook) |
//!
//! Linking this crate installs the counting allocator as the global allocator.

pub mod heap;
pub mod program;
pub mod restrictions_file;
mod run;
pub mod supervisor;
mod wall;

pub use run::{run, KernelWallMode, RunOptions};
