//! Exit statuses of `repy run` (cli.md): scripts, tests and the node manager depend on them.

/// How `repy run` ended, as its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The program ended normally or called `exitall()`.
    Ok = 0,
    /// An exception escaped the program (or the host failed internally).
    Uncaught = 1,
    /// Bad command line or restrictions file: nothing ran.
    Usage = 2,
    /// The program broke the static safety rules: nothing of it ran.
    CodeSafety = 3,
    /// The vessel was ended for resource exhaustion (memory, disk, a refused thread).
    Resource = 4,
}

impl ExitStatus {
    /// The process exit code.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The status for an exit code, if it is one of cli.md's.
    pub fn from_code(code: i32) -> Option<Self> {
        [Self::Ok, Self::Uncaught, Self::Usage, Self::CodeSafety, Self::Resource].into_iter().find(|s| s.code() == code)
    }
}

/// The code a process's end is reported as: its own exit code, or 128 + the signal that
/// ended it (as shells do); None if neither is known.
pub fn reported_code(status: std::process::ExitStatus) -> Option<i32> {
    if let Some(code) = status.code() {
        return Some(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Some(128 + signal);
        }
    }
    None
}

impl From<ExitStatus> for u8 {
    fn from(status: ExitStatus) -> u8 {
        status as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_those_of_cli_md_and_round_trip() {
        assert_eq!([0, 1, 2, 3, 4].map(|c| ExitStatus::from_code(c).unwrap().code()), [0, 1, 2, 3, 4]);
        assert_eq!(ExitStatus::from_code(5), None);
        assert_eq!(u8::from(ExitStatus::Resource), 4);
    }

    #[cfg(unix)]
    #[test]
    fn a_signal_is_reported_as_128_plus_its_number() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(reported_code(std::process::ExitStatus::from_raw(9)), Some(137));
        assert_eq!(reported_code(std::process::ExitStatus::from_raw(3 << 8)), Some(3));
    }
}
