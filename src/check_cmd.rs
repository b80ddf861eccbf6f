//! `repy check PROGRAM...`: the static safety check alone.

use repy_vessel::program::checked_source;

pub fn check(programs: &[std::path::PathBuf]) -> u8 {
    programs.iter().map(|p| checked_source(p).err().unwrap_or(0)).max().unwrap_or(0)
}
