//! The resources a restrictions file can limit (restrictions.md §3).

use std::fmt;

/// How a resource is metered; decides which part of the sandbox enforces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceClass {
    /// A rate per second; the calling thread waits when over it (§4.1).
    Renewable,
    /// A count of items held at the same time (§4.5).
    Fungible,
    /// A set of specific port numbers (§4.7).
    Individual,
    /// A total that must never be exceeded (§4.3, §4.4).
    HardCap,
}

/// One resource of restrictions.md §3. The declaration order is the table order, which is
/// also the order of the canonical file text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Cpu,
    Memory,
    Diskused,
    Events,
    Filewrite,
    Fileread,
    Filesopened,
    Insockets,
    Outsockets,
    Netsend,
    Netrecv,
    Loopsend,
    Looprecv,
    Lograte,
    Random,
    Messport,
    Connport,
}

impl Resource {
    /// Every resource, in §3 order.
    pub const ALL: &'static [Resource] = &[
        Resource::Cpu,
        Resource::Memory,
        Resource::Diskused,
        Resource::Events,
        Resource::Filewrite,
        Resource::Fileread,
        Resource::Filesopened,
        Resource::Insockets,
        Resource::Outsockets,
        Resource::Netsend,
        Resource::Netrecv,
        Resource::Loopsend,
        Resource::Looprecv,
        Resource::Lograte,
        Resource::Random,
        Resource::Messport,
        Resource::Connport,
    ];

    /// Number of resources; sizes per-resource tables.
    pub const COUNT: usize = Self::ALL.len();

    /// The name used in restrictions files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
            Resource::Diskused => "diskused",
            Resource::Events => "events",
            Resource::Filewrite => "filewrite",
            Resource::Fileread => "fileread",
            Resource::Filesopened => "filesopened",
            Resource::Insockets => "insockets",
            Resource::Outsockets => "outsockets",
            Resource::Netsend => "netsend",
            Resource::Netrecv => "netrecv",
            Resource::Loopsend => "loopsend",
            Resource::Looprecv => "looprecv",
            Resource::Lograte => "lograte",
            Resource::Random => "random",
            Resource::Messport => "messport",
            Resource::Connport => "connport",
        }
    }

    /// Looks a name up exactly (names are case-sensitive).
    pub fn from_name(name: &str) -> Option<Resource> {
        Self::ALL.iter().copied().find(|r| r.name() == name)
    }

    /// Position in [`Resource::ALL`], for per-resource arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn class(self) -> ResourceClass {
        match self {
            Resource::Memory | Resource::Diskused => ResourceClass::HardCap,
            Resource::Events | Resource::Filesopened | Resource::Insockets | Resource::Outsockets => ResourceClass::Fungible,
            Resource::Messport | Resource::Connport => ResourceClass::Individual,
            _ => ResourceClass::Renewable,
        }
    }

    /// Whether the value must be a whole number (§3 "integral"). Port resources are sets, not
    /// numbers, and report false.
    pub fn is_integral(self) -> bool {
        matches!(self.class(), ResourceClass::HardCap | ResourceClass::Fungible)
    }

    /// Whether the value is a port set rather than a number.
    pub fn is_port(self) -> bool {
        self.class() == ResourceClass::Individual
    }

    /// The unit, for display next to a value.
    pub fn unit(self) -> &'static str {
        match self {
            Resource::Cpu => "cores",
            Resource::Memory | Resource::Diskused => "bytes",
            Resource::Events => "threads",
            Resource::Filesopened => "files",
            Resource::Insockets => "listeners",
            Resource::Outsockets => "connections",
            Resource::Random => "calls/s",
            Resource::Messport => "UDP ports",
            Resource::Connport => "TCP ports",
            _ => "bytes/s",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_table_order() {
        let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names[0], "cpu");
        assert_eq!(names[3], "events");
        assert_eq!(names[16], "connport");
        for (i, r) in Resource::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(Resource::from_name(r.name()), Some(*r));
        }
        assert_eq!(Resource::from_name("CPU"), None);
        assert_eq!(Resource::from_name("the_events"), None);
    }

    #[test]
    fn classes_and_integrality_follow_the_table() {
        assert_eq!(Resource::Cpu.class(), ResourceClass::Renewable);
        assert_eq!(Resource::Memory.class(), ResourceClass::HardCap);
        assert_eq!(Resource::Outsockets.class(), ResourceClass::Fungible);
        assert_eq!(Resource::Connport.class(), ResourceClass::Individual);
        assert_eq!(Resource::Random.class(), ResourceClass::Renewable);
        let integral: Vec<&str> = Resource::ALL.iter().filter(|r| r.is_integral()).map(|r| r.name()).collect();
        assert_eq!(integral, ["memory", "diskused", "events", "filesopened", "insockets", "outsockets"]);
        assert_eq!(Resource::Netsend.unit(), "bytes/s");
    }
}
