//! `repy check PROGRAM...`: the static safety check alone, of each program and its libraries.

use std::path::PathBuf;

use repy_vessel::program::load;

pub fn check(programs: &[PathBuf], lib_dirs: &[PathBuf]) -> u8 {
    programs.iter().map(|p| load(p, lib_dirs).err().unwrap_or(0)).max().unwrap_or(0)
}
