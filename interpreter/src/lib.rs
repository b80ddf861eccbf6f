//! The embedded interpreter: a RustPython VM with no standard library, the static safety
//! check, the sandbox builtins and the runtime guards of repy-api.md §9–§10.

pub mod check;
pub mod exceptions;
pub mod fuzzing;
pub mod guards;
pub mod identifier;
pub mod program;
pub mod safedict;
pub mod sandbox;
pub mod source;
pub mod traceback;
pub mod values;

pub use rustpython_vm as vm;
