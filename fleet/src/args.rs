//! Per-vessel placeholders in the arguments of `repy fleet start` / `run`:
//!
//! | placeholder | replaced by |
//! |---|---|
//! | `{ip}` | the node's IP address (its host in the nodes file, resolved) |
//! | `{port}` | the vessel's first `messport` (UDP) |
//! | `{connport}` | the vessel's first `connport` (TCP) |
//! | `{node}` | the node as written in the nodes file |
//! | `{vessel}` | the vessel's name (`v1`) |
//! | `{peers}` (a whole argument) | one argument `IP:PORT` (`{ip}:{port}`) per vessel the command acts on, this one included |
//!
//! `{{` and `}}` stand for literal braces.

/// What the placeholders of one vessel stand for.
#[derive(Clone, Debug)]
pub struct Slot {
    pub node: String,
    pub vessel: String,
    pub ip: String,
    pub port: Option<u16>,
    pub connport: Option<u16>,
}

impl Slot {
    /// `IP:PORT` of the vessel's UDP port, as listed by `{peers}`.
    pub fn peer(&self) -> Option<String> {
        self.port.map(|p| if self.ip.contains(':') { format!("[{}]:{p}", self.ip) } else { format!("{}:{p}", self.ip) })
    }
}

/// The expanded arguments for `me`; `all` are every vessel's slots (for `{peers}`).
pub fn expand(args: &[String], me: &Slot, all: &[Slot]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "{peers}" {
            for slot in all {
                out.push(slot.peer().ok_or_else(|| format!("{{peers}}: vessel {}/{} has no messport", slot.node, slot.vessel))?);
            }
            continue;
        }
        out.push(expand_one(arg, me)?);
    }
    Ok(out)
}

fn expand_one(arg: &str, me: &Slot) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(format!("argument '{arg}': unmatched '}}' (write '}}}}' for a literal brace)"));
        }
        let end = tail.find('}').ok_or_else(|| format!("argument '{arg}': unclosed '{{' (write '{{{{' for a literal brace)"))?;
        let name = &tail[1..end];
        let missing = |what: &str| format!("argument '{arg}': vessel {}/{} has no {what} to put for {{{name}}}", me.node, me.vessel);
        let value = match name {
            "ip" => me.ip.clone(),
            "port" => me.port.ok_or_else(|| missing("messport"))?.to_string(),
            "connport" => me.connport.ok_or_else(|| missing("connport"))?.to_string(),
            "node" => me.node.clone(),
            "vessel" => me.vessel.clone(),
            "peers" => return Err(format!("argument '{arg}': {{peers}} must be a whole argument")),
            other => {
                return Err(format!(
                    "argument '{arg}': unknown placeholder {{{other}}} (known: {{ip}} {{port}} {{connport}} {{node}} {{vessel}} {{peers}})"
                ))
            }
        };
        out.push_str(&value);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The first port of a `resource messport|connport` line of a restrictions text.
pub fn first_port(resources: &str, kind: &str) -> Option<u16> {
    resources
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("resource") && words.next() == Some(kind)).then(|| words.next()).flatten()
        })
        .filter_map(|range| range.split('-').next().and_then(|p| p.parse::<u16>().ok()))
        .min()
}

/// The values of the `resource KIND ...` lines, joined with commas (ranges of ports, or one number).
pub fn resource_text(resources: &str, kind: &str) -> String {
    resources
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("resource") && words.next() == Some(kind)).then(|| words.next()).flatten()
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(vessel: &str, ip: &str, port: u16) -> Slot {
        Slot { node: format!("{ip}:1224"), vessel: vessel.into(), ip: ip.into(), port: Some(port), connport: Some(port + 1) }
    }

    #[test]
    fn expands_placeholders_and_peers() {
        let all = [slot("v1", "127.0.0.1", 63100), slot("v2", "127.0.0.1", 63110), slot("v1", "::1", 5)];
        let args: Vec<String> = ["{ip}:{port}", "{connport}", "{peers}", "{node}/{vessel}", "{{x}}"].map(String::from).into();
        let out = expand(&args, &all[1], &all).unwrap();
        assert_eq!(out, ["127.0.0.1:63110", "63111", "127.0.0.1:63100", "127.0.0.1:63110", "[::1]:5", "127.0.0.1:1224/v2", "{x}"]);
    }

    #[test]
    fn bad_placeholders_are_named() {
        let me = slot("v1", "127.0.0.1", 1);
        let e = expand(&["{prot}".into()], &me, &[]).unwrap_err();
        assert!(e.contains("unknown placeholder {prot}"), "{e}");
        assert!(expand(&["a{ip".into()], &me, &[]).unwrap_err().contains("unclosed"));
        assert!(expand(&["a}".into()], &me, &[]).unwrap_err().contains("unmatched"));
        assert!(expand(&["x{peers}".into()], &me, &[]).unwrap_err().contains("whole argument"));
        let none = Slot { port: None, ..me };
        assert!(expand(&["{port}".into()], &none, &[]).unwrap_err().contains("no messport"));
    }

    #[test]
    fn ports_from_resources() {
        let text = "resource cpu 0.1\nresource messport 63120-63129\nresource messport 63100\nresource connport 63200-63209\n";
        assert_eq!(first_port(text, "messport"), Some(63100));
        assert_eq!(first_port(text, "connport"), Some(63200));
        assert_eq!(first_port(text, "other"), None);
        assert_eq!(resource_text(text, "messport"), "63120-63129,63100");
        assert_eq!(resource_text(text, "cpu"), "0.1");
    }
}
