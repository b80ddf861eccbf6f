//! `repy node init --percent P` end to end: the node's resources are P % of what this machine
//! reports (cores from `nproc`, memory from /proc/meminfo, the link speed from
//! /sys/class/net), split among the vessels, and `repy node status` shows both.

use std::path::Path;

mod common;

use common::repy;

fn repy_cli(args: &[&str]) -> (bool, String, String) {
    let out = repy().args(args).output().expect("repy runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `nproc`, as the machine reports it outside repy.
fn nproc() -> u64 {
    let out = std::process::Command::new("nproc").output().expect("nproc runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// MemTotal of /proc/meminfo, bytes.
fn mem_total() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = info.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// The fastest up hardware interface's speed in Mbit/s, or 100 (repy's stated default).
/// Virtual ones (no `device` link: loopback, the veth pairs other tests make) do not count.
fn link_mbit() -> u64 {
    let mut best = None;
    for entry in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let read = |f: &str| std::fs::read_to_string(entry.path().join(f)).unwrap_or_default().trim().to_string();
        if !entry.path().join("device").exists() || read("type") == "772" || read("operstate") != "up" {
            continue;
        }
        if let Ok(speed) = read("speed").parse::<i64>() {
            if speed > 0 {
                best = best.max(Some(speed as u64));
            }
        }
    }
    best.unwrap_or(100)
}

/// The value of `resource NAME` in a restrictions file.
fn resource(path: &Path, name: &str) -> f64 {
    let text = std::fs::read_to_string(path).unwrap();
    let prefix = format!("resource {name} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {name} in {text}")).trim().parse().unwrap()
}

/// A size as repy prints it, `16.0 GB` or `16.0GB`, in bytes.
fn size(text: &str) -> f64 {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or_else(|| panic!("no unit in '{text}'"));
    let scale = match &text[split..] {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        other => panic!("unit {other} in '{text}'"),
    };
    text[..split].trim().parse::<f64>().unwrap() * scale
}

/// The size written just before ` what` in `text` ("... 16.0 GB memory" before "memory").
fn size_before(text: &str, what: &str) -> f64 {
    let end = text.find(&format!(" {what}")).unwrap_or_else(|| panic!("no '{what}' in {text}"));
    let words: Vec<&str> = text[..end].rsplit(' ').take(2).collect();
    size(&format!("{}{}", words[1].trim_start_matches('('), words[0]))
}

/// The size written just after `what ` in `text` ("memory 5.2 GB" after "memory").
fn size_after(text: &str, what: &str) -> f64 {
    let start = text.find(&format!("{what} ")).unwrap_or_else(|| panic!("no '{what}' in {text}")) + what.len() + 1;
    let words: Vec<&str> = text[start..].split(' ').take(2).collect();
    size(&format!("{}{}", words[0], words[1].trim_end_matches(',')))
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs().max(1.0)
}

#[test]
fn twenty_percent_of_the_machine_in_four_vessels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(repy_cli(&["keygen", "k", "--dir", d]).0);
    let state = dir.path().join("st");
    let (ok, out, err) = repy_cli(&[
        "node",
        "init",
        "--dir",
        state.to_str().unwrap(),
        "--owner",
        &format!("{d}/k.publickey"),
        "--percent",
        "20",
        "--vessels",
        "4",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("share: 20 % of this machine"), "{out}");
    let (cpus, memory, link) = (nproc(), mem_total(), link_mbit());

    // Each vessel: (total - 4 x offcut) / 4, the offcut being cpu 0.002 and memory 1 MB.
    let v1 = state.join("resources/v1.restrictions");
    let cpu = (cpus as f64 * 0.2 - 4.0 * 0.002) / 4.0;
    assert!(close(resource(&v1, "cpu"), cpu, 1e-5), "cpu {} for {cpus} cores", resource(&v1, "cpu"));
    let mem = (memory as f64 * 0.2 - 4e6) / 4.0;
    assert!(close(resource(&v1, "memory"), mem, 1e-3), "memory {} for MemTotal {memory}", resource(&v1, "memory"));
    let net = link as f64 * 1e6 / 8.0 * 0.2 / 4.0;
    assert_eq!(resource(&v1, "netsend"), net, "20 % of {link} Mbit/s in 4 vessels");
    assert_eq!(resource(&v1, "netrecv"), net);
    let toml = std::fs::read_to_string(state.join("node.toml")).unwrap();
    assert!(toml.lines().any(|l| l == "donation_percent = 20.0"), "{toml}");

    let (ok, status, err) = repy_cli(&["node", "status", "--dir", state.to_str().unwrap()]);
    assert!(ok, "{err}");
    let first = status.lines().next().unwrap();
    assert!(first.starts_with(&format!("share: 20 % of this machine ({cpus} cores, ")), "{status}");
    assert!(close(size_before(first, "memory,"), memory as f64, 0.01), "MemTotal {memory}: {first}");
    assert!(first.contains(&format!(", {link} Mbit/s")), "link {link}: {first}");
    let totals = &first[first.find(") = ").unwrap() + 4..];
    let cpu_total: f64 = totals.strip_prefix("cpu ").unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(close(cpu_total, cpus as f64 * 0.2, 1e-6), "{first}");
    assert!(close(size_after(totals, "disk"), size_before(first, "free disk") * 0.2, 0.02), "{first}");
    assert!(close(size_after(totals, "memory") / 0.2, memory as f64, 0.02), "{first}");
    assert!(totals.ends_with("in 4 vessels"), "{first}");

    // The table: one row a vessel with what it holds.
    let rows: Vec<&str> = status.lines().filter(|l| l.starts_with('v')).collect();
    assert_eq!(rows.len(), 4, "{status}");
    let cells: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!((cells[0], cells[1]), ("v1", "Fresh"), "{status}");
    assert!(close(cells[3].parse().unwrap(), cpu, 1e-5), "{status}");
    assert!(close(size(cells[5].strip_prefix("-/").unwrap()), mem, 0.01), "memory not used yet/limit: {status}");
    assert!(close(size(cells[6].split('/').nth(1).unwrap()), resource(&v1, "diskused"), 0.01), "{status}");
    assert!(cells[7].contains("B/s/"), "{status}");
}

#[test]
fn explicit_values_override_the_percentage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(repy_cli(&["keygen", "k", "--dir", d]).0);
    let state = dir.path().join("st");
    let (ok, _, err) = repy_cli(&[
        "node",
        "init",
        "--dir",
        state.to_str().unwrap(),
        "--owner",
        &format!("{d}/k.publickey"),
        "--percent",
        "12.5",
        "--vessels",
        "2",
        "--memory",
        "202000000",
    ]);
    assert!(ok, "{err}");
    let v2 = state.join("resources/v2.restrictions");
    assert_eq!(resource(&v2, "memory"), 100_000_000.0, "(202 MB - 2 x 1 MB) / 2");
    assert!(close(resource(&v2, "cpu"), (nproc() as f64 * 0.125 - 0.004) / 2.0, 1e-5));
    let (_, status, _) = repy_cli(&["node", "status", "--dir", state.to_str().unwrap()]);
    assert!(status.starts_with("share: 12.5 % of this machine") && status.contains("memory 202 MB (--memory)"), "{status}");
}

#[test]
fn bad_percentages_are_refused_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(repy_cli(&["keygen", "k", "--dir", d]).0);
    let state = dir.path().join("st");
    for bad in ["0", "150", "abc", "-3"] {
        let (ok, _, err) = repy_cli(&[
            "node",
            "init",
            "--dir",
            state.to_str().unwrap(),
            "--owner",
            &format!("{d}/k.publickey"),
            &format!("--percent={bad}"),
        ]);
        assert!(!ok && err.contains(&format!("--percent '{bad}'")), "{bad}: {err}");
        assert!(!state.exists(), "--percent {bad}: nothing is created");
    }
    // Without --percent the defaults stay: 10 % and 10 MB/s of network in total.
    let (ok, out, err) = repy_cli(&["node", "init", "--dir", state.to_str().unwrap(), "--owner", &format!("{d}/k.publickey")]);
    assert!(ok, "{err}");
    assert!(out.contains("share: no --percent, 10 % defaults"), "{out}");
    assert_eq!(resource(&state.join("resources/v1.restrictions"), "netsend"), 2_500_000.0);
    assert!(std::fs::read_to_string(state.join("node.toml")).unwrap().contains("donation_percent = 0.0"));
}
