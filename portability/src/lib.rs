//! The operating-system layer: everything the sandbox asks of the host that differs between
//! Linux, macOS and Windows lives behind the functions of this crate.

pub mod process;
