//! Linux network namespaces joined by a bridge, for a testbed whose nodes behave as separate
//! machines: each namespace has its own IP address on one virtual Ethernet segment, so that
//! addresses, `{ip}`, reachability and a cut link are as between hosts. Built with iproute2's
//! `ip`, which every Linux distribution has, rather than raw netlink: the commands are the
//! ones an administrator would type, and their errors say what went wrong. Needs root
//! (CAP_NET_ADMIN and CAP_SYS_ADMIN). Other systems get `Unsupported`.

use std::{io, process::Command};

/// Runs `ip ARGS`; an error carries the command and what `ip` printed.
fn ip(args: &[&str]) -> io::Result<()> {
    if !cfg!(target_os = "linux") {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "network namespaces exist on Linux only"));
    }
    let out =
        Command::new("ip").args(args).output().map_err(|e| io::Error::new(e.kind(), format!("cannot run `ip` (install iproute2): {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(io::Error::other(format!("`ip {}` failed: {said}", args.join(" "))))
}

/// Whether a network device called `name` exists (in this namespace).
pub fn link_exists(name: &str) -> bool {
    cfg!(target_os = "linux") && std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Whether the namespace `name` exists (as `ip netns add` makes them).
pub fn namespace_exists(name: &str) -> bool {
    cfg!(target_os = "linux") && std::path::Path::new("/run/netns").join(name).exists()
}

/// A bridge `name`, up, holding `address` (`A.B.C.D/PREFIX`) for the host's side.
pub fn create_bridge(name: &str, address: &str) -> io::Result<()> {
    ip(&["link", "add", name, "type", "bridge"])?;
    ip(&["addr", "add", address, "dev", name])?;
    ip(&["link", "set", name, "up"])
}

/// The namespace `namespace` with loopback up and an interface `eth0` holding `address`
/// (`A.B.C.D/PREFIX`), cabled by the veth pair whose host end `host_end` is on `bridge`.
pub fn create_namespace(namespace: &str, bridge: &str, host_end: &str, address: &str) -> io::Result<()> {
    ip(&["netns", "add", namespace])?;
    ip(&["link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", namespace])?;
    ip(&["link", "set", host_end, "master", bridge, "up"])?;
    ip(&["-n", namespace, "addr", "add", address, "dev", "eth0"])?;
    ip(&["-n", namespace, "link", "set", "eth0", "up"])?;
    ip(&["-n", namespace, "link", "set", "lo", "up"])
}

/// Cuts (`up` false) or mends a link, as pulling a cable would.
pub fn set_link(name: &str, up: bool) -> io::Result<()> {
    ip(&["link", "set", name, if up { "up" } else { "down" }])
}

/// Removes a namespace; its end of the veth pair goes with it, and so the host end.
pub fn delete_namespace(namespace: &str) -> io::Result<()> {
    ip(&["netns", "delete", namespace])
}

/// Removes a network device (the bridge).
pub fn delete_link(name: &str) -> io::Result<()> {
    ip(&["link", "delete", name])
}

/// `program` run inside `namespace` (`ip netns exec`, which then executes `program` in its own
/// place, so the process keeps the pid that the caller sees).
pub fn command_in(namespace: &str, program: &std::path::Path) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", namespace]).arg(program);
    command
}

/// The IPv4 addresses (`A.B.C.D/PREFIX`) held by this namespace's interfaces, to pick a
/// subnet nobody uses.
pub fn addresses_in_use() -> io::Result<Vec<String>> {
    let out = Command::new("ip").args(["-o", "-4", "addr", "show"]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1).map(str::to_string)).collect())
}
