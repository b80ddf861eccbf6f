//! How much of the machine `repy node init` donates: the machine as measured (cores, memory,
//! free disk, link speed), `--percent` of it or the 10 % defaults, explicit `--cpu`,
//! `--memory` and `--disk` over either, and the record of all that in `donation.json` that
//! `repy node status` shows.

use std::path::Path;

use repy_policy::Micro;
use repy_portability::machine;
use serde::{Deserialize, Serialize};

/// The link speed assumed when no interface reports one (containers, virtual machines, Wi-Fi
/// drivers without the figure, systems other than Linux).
pub const DEFAULT_LINK_MBIT: u64 = 100;

/// What each vessel set sends and receives per second, in total, without `--percent`
/// (10 MB/s, as before `--percent` existed).
pub const DEFAULT_NET_BYTES: u64 = 10_000_000;

/// The machine, as measured when the node was initialised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: u64,
    /// Physical memory, bytes.
    pub memory: u64,
    /// Free space of the state directory's file system, bytes.
    pub free_disk: u64,
    /// Network link speed, Mbit/s.
    pub link_mbit: u64,
    /// Where `link_mbit` comes from: an interface name, or why the default was used.
    pub link_source: String,
}

impl Machine {
    /// Measures this machine; `dir` is the state directory (its file system's free space).
    /// A figure that cannot be measured is an error unless `explicit` gives it (then 0).
    pub fn measure(dir: &Path, explicit: Explicit) -> Result<Machine, String> {
        let memory = match (machine::physical_memory(), explicit.memory) {
            (Ok(m), _) => m,
            (Err(_), Some(_)) => 0,
            (Err(e), None) => return Err(format!("cannot measure physical memory ({e}): give --memory")),
        };
        let free_disk = match (machine::free_disk_space(dir), explicit.disk) {
            (Ok(d), _) => d,
            (Err(_), Some(_)) => 0,
            (Err(e), None) => return Err(format!("cannot measure free space of '{}' ({e}): give --disk", dir.display())),
        };
        let (link_mbit, link_source) = match machine::link_speeds_mbit() {
            Ok(speeds) => match speeds.iter().max_by_key(|(_, s)| *s) {
                Some((name, speed)) => (*speed, name.clone()),
                None => (DEFAULT_LINK_MBIT, "default: no hardware interface that is up reports its speed".into()),
            },
            Err(e) => (DEFAULT_LINK_MBIT, format!("default: link speed unknown ({e})")),
        };
        Ok(Machine { cpus: machine::logical_cpus(), memory, free_disk, link_mbit, link_source })
    }
}

/// The node's totals, before they are split among the vessels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Cores, as a fraction of one core.
    #[serde(with = "micro_text")]
    pub cpu: Micro,
    pub memory: u64,
    pub disk: u64,
    /// Bytes/s, for netsend and for netrecv each.
    pub net: u64,
}

/// A [`Micro`] as its decimal text in JSON (`"0.8"`), exact where a float would not be.
mod micro_text {
    use repy_policy::Micro;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Micro, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Micro, D::Error> {
        let text = String::deserialize(d)?;
        Micro::parse(&text).map_err(|e| serde::de::Error::custom(format!("'{text}': {e}")))
    }
}

/// `--cpu`, `--memory` and `--disk` as given.
#[derive(Clone, Copy, Debug, Default)]
pub struct Explicit {
    pub cpu: Option<Micro>,
    pub memory: Option<u64>,
    pub disk: Option<u64>,
}

/// `donation.json`: what `repy node init` measured, was asked for and donated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// `--percent` as given, or None.
    pub percent: Option<String>,
    pub machine: Machine,
    pub totals: Totals,
    /// Which of cpu, memory, disk were given explicitly.
    pub explicit: Vec<String>,
    pub vessels: u64,
}

/// Parses `--percent`: a decimal number with 0 < P <= 100 (up to 6 decimals).
pub fn parse_percent(text: &str) -> Result<Micro, String> {
    let p =
        Micro::parse(text.trim()).map_err(|e| format!("invalid --percent '{text}': {e} (expected a number above 0 and at most 100)"))?;
    if p.is_zero() || p > Micro::from_micros(100_000_000) {
        return Err(format!("invalid --percent '{text}': must be above 0 and at most 100"));
    }
    Ok(p)
}

/// `value × percent / 100`, rounded down; `percent` in micro-units.
fn part(value: u64, percent: Micro) -> u64 {
    (value as u128 * percent.micros() as u128 / 100_000_000) as u64
}

/// The totals for `machine`: `percent` of each resource (cores as a fraction of one core,
/// the link's Mbit/s as bytes/s), or without it 10 % of cores, memory and disk and
/// [`DEFAULT_NET_BYTES`]; an explicit value replaces the computed one.
pub fn totals(machine: &Machine, percent: Option<Micro>, explicit: Explicit) -> Totals {
    let p = percent.unwrap_or(Micro::from_micros(10_000_000));
    let link_bytes = machine.link_mbit.saturating_mul(1_000_000 / 8);
    Totals {
        cpu: explicit.cpu.unwrap_or_else(|| Micro::from_micros(part(machine.cpus.saturating_mul(1_000_000), p))),
        memory: explicit.memory.unwrap_or_else(|| part(machine.memory, p)),
        disk: explicit.disk.unwrap_or_else(|| part(machine.free_disk, p)),
        net: if percent.is_some() { part(link_bytes, p) } else { DEFAULT_NET_BYTES },
    }
}

/// Bytes with a decimal unit to 3 significant digits: `950 B`, `1.26 GB`, `16.0 GB`, `144 MB`
/// (`sep` between number and unit).
pub fn bytes(n: u64, sep: &str) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n}{sep}B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.5 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = if value < 9.995 {
        2
    } else if value < 99.95 {
        1
    } else {
        0
    };
    format!("{value:.decimals$}{sep}{}", UNITS[unit])
}

impl Record {
    /// The first line of `repy node status`.
    pub fn summary(&self) -> String {
        let m = &self.machine;
        let link = if m.link_source.starts_with("default") {
            format!("{} Mbit/s ({})", m.link_mbit, m.link_source)
        } else {
            format!("{} Mbit/s on {}", m.link_mbit, m.link_source)
        };
        let machine = format!("{} cores, {} memory, {} free disk, {link}", m.cpus, bytes(m.memory, " "), bytes(m.free_disk, " "));
        let given = |name: &str| if self.explicit.iter().any(|e| e == name) { format!(" (--{name})") } else { String::new() };
        let t = &self.totals;
        let figures = format!(
            "cpu {}{}, memory {}{}, disk {}{}, net {}/s each way in {} vessels",
            t.cpu,
            given("cpu"),
            bytes(t.memory, " "),
            given("memory"),
            bytes(t.disk, " "),
            given("disk"),
            bytes(t.net, " "),
            self.vessels
        );
        match &self.percent {
            Some(p) => format!("share: {p} % of this machine ({machine}) = {figures}"),
            None => format!("share: no --percent, 10 % defaults (this machine: {machine}) = {figures}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine { cpus: 4, memory: 16_000_000_000, free_disk: 100_000_000_000, link_mbit: 1000, link_source: "eth0".into() }
    }

    #[test]
    fn a_percentage_of_every_resource() {
        let t = totals(&machine(), Some(parse_percent("20").unwrap()), Explicit::default());
        assert_eq!(t.cpu, Micro::parse("0.8").unwrap());
        assert_eq!((t.memory, t.disk), (3_200_000_000, 20_000_000_000));
        assert_eq!(t.net, 25_000_000, "20 % of 1000 Mbit/s = 200 Mbit/s = 25 MB/s");
        let t = totals(&machine(), Some(parse_percent("12.5").unwrap()), Explicit::default());
        assert_eq!((t.cpu, t.memory, t.net), (Micro::parse("0.5").unwrap(), 2_000_000_000, 15_625_000));
        let t = totals(&machine(), Some(parse_percent("100").unwrap()), Explicit::default());
        assert_eq!((t.cpu, t.disk), (Micro::parse("4").unwrap(), 100_000_000_000));
        let t = totals(&machine(), Some(parse_percent("0.000001").unwrap()), Explicit::default());
        assert_eq!((t.cpu, t.memory), (Micro::ZERO, 160), "rounded down");
    }

    #[test]
    fn explicit_values_win_and_no_percent_keeps_the_defaults() {
        let explicit = Explicit { cpu: Some(Micro::parse("0.25").unwrap()), memory: Some(1), disk: None };
        let t = totals(&machine(), Some(parse_percent("50").unwrap()), explicit);
        assert_eq!((t.cpu, t.memory, t.disk, t.net), (Micro::parse("0.25").unwrap(), 1, 50_000_000_000, 62_500_000));
        let t = totals(&machine(), None, Explicit::default());
        assert_eq!((t.cpu, t.memory, t.disk, t.net), (Micro::parse("0.4").unwrap(), 1_600_000_000, 10_000_000_000, DEFAULT_NET_BYTES));
    }

    #[test]
    fn bad_percentages_name_the_option() {
        for bad in ["0", "0.0", "150", "100.000001", "abc", "-5", "", "1e2", "0.0000001"] {
            let e = parse_percent(bad).unwrap_err();
            assert!(e.starts_with(&format!("invalid --percent '{bad}'")), "{bad}: {e}");
        }
        assert_eq!(parse_percent(" 7.5 ").unwrap(), Micro::parse("7.5").unwrap());
    }

    #[test]
    fn the_summary_shows_machine_share_and_source() {
        let m = machine();
        let t = totals(&m, Some(parse_percent("20").unwrap()), Explicit { memory: Some(1_500_000_000), ..Explicit::default() });
        let r = Record { percent: Some("20".into()), machine: m, totals: t, explicit: vec!["memory".into()], vessels: 4 };
        assert_eq!(
            r.summary(),
            "share: 20 % of this machine (4 cores, 16.0 GB memory, 100 GB free disk, 1000 Mbit/s on eth0) = \
cpu 0.8, memory 1.50 GB (--memory), disk 20.0 GB, net 25.0 MB/s each way in 4 vessels"
        );
        let r = Record { percent: None, machine: Machine { link_source: "default: unknown".into(), link_mbit: 100, ..machine() }, ..r };
        assert!(r.summary().starts_with("share: no --percent, 10 % defaults (this machine: 4 cores"), "{}", r.summary());
        assert!(r.summary().contains("100 Mbit/s (default: unknown)"), "{}", r.summary());
        assert_eq!(bytes(999, ""), "999B");
        assert_eq!(bytes(999_960, " "), "1.00 MB");
        assert_eq!(bytes(1_234_567_890_123, ""), "1.23TB");
        assert_eq!(
            (bytes(1_264_000_000, ""), bytes(99_960, ""), bytes(144_400_000, "")),
            ("1.26GB".into(), "100kB".into(), "144MB".into())
        );
    }
}
