//! Resource arithmetic (nodemanager.md §6) on parsed restrictions: split, join, the offcut and
//! the initial shares of `repy node init`.

use repy_policy::{parse, Micro, PortSet, Resource, Restrictions};

use crate::request::{err, Code, NmError};

/// The default offcut (§6).
pub const DEFAULT_OFFCUT: &str = "resource cpu 0.002\nresource memory 1000000\nresource diskused 100000\nresource events 2\n\
resource filewrite 1000\nresource fileread 1000\nresource filesopened 1\nresource lograte 100\n";

/// Numeric resources in file order.
pub fn numeric() -> impl Iterator<Item = Resource> {
    Resource::ALL.iter().copied().filter(|r| !r.is_port())
}

const PORTS: [Resource; 2] = [Resource::Messport, Resource::Connport];

/// Parses a restrictions text, joining all errors into one message.
pub fn parse_text(text: &str) -> Result<Restrictions, String> {
    parse(text).map_err(|errors| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
}

/// Parses an offcut text: resource lines only, no ports. Resources it does not name count as 0.
pub fn parse_offcut(text: &str) -> Result<Restrictions, String> {
    let r = parse_text(text)?;
    if r.has_call_rules() {
        return Err("the offcut may not contain call lines".into());
    }
    if PORTS.iter().any(|&p| !r.ports(p).is_empty()) {
        return Err("the offcut may not contain ports".into());
    }
    Ok(r)
}

/// Whether `r` is a valid vessel on its own (the parser's minimums applied to its canonical text).
pub fn check_vessel(r: &Restrictions) -> Result<(), String> {
    // Line numbers of the generated text mean nothing to the user: keep only the reasons.
    parse(&r.to_canonical_text()).map(|_| ()).map_err(|errors| errors.iter().map(|e| e.reason.clone()).collect::<Vec<_>>().join("; "))
}

fn shortfall(res: Resource, have: Micro, need: Micro) -> NmError {
    NmError::new(
        Code::ResourceMath,
        format!(
            "not enough '{res}': the vessel has {have}, the split needs {need} (short by {})",
            need.checked_sub(have).unwrap_or(Micro::ZERO)
        ),
    )
}

/// SplitVessel: returns (leftover, proposed).
pub fn split(original: &Restrictions, offcut: &Restrictions, proposed_text: &str) -> Result<(Restrictions, Restrictions), NmError> {
    let mut proposed = parse(proposed_text).map_err(|errors| {
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        NmError::new(Code::BadResources, format!("proposed resources: {}", shown.join("; ")))
    })?;
    if let Some(rule) = proposed.calls().first() {
        return err(
            Code::BadResources,
            format!("proposed resources: line {}: call lines are not allowed in a split ('{}')", rule.line, rule.text),
        );
    }
    let mut leftover = original.clone();
    for res in numeric() {
        let need = offcut
            .value(res)
            .checked_add(proposed.value(res))
            .ok_or_else(|| NmError::new(Code::ResourceMath, format!("'{res}' overflows")))?;
        let have = original.value(res);
        let rest = have.checked_sub(need).ok_or_else(|| shortfall(res, have, need))?;
        leftover.set_value(res, rest);
    }
    for res in PORTS {
        let want = proposed.ports(res);
        if let Some(port) = want.first_missing_from(original.ports(res)) {
            return err(Code::ResourceMath, format!("port {port} of '{res}' is not in the vessel's {res} set"));
        }
        leftover.set_ports(res, original.ports(res).difference(want));
    }
    check_vessel(&leftover)
        .map_err(|e| NmError::new(Code::ResourceMath, format!("the vessel left after the split would be invalid: {e}")))?;
    proposed.set_calls(original.calls().to_vec());
    Ok((leftover, proposed))
}

/// JoinVessels: `a + b + offcut`, ports united, call lines of `a`.
pub fn join(a: &Restrictions, b: &Restrictions, offcut: &Restrictions) -> Result<Restrictions, NmError> {
    let mut joined = a.clone();
    for res in numeric() {
        let sum = a
            .value(res)
            .checked_add(b.value(res))
            .and_then(|s| s.checked_add(offcut.value(res)))
            .ok_or_else(|| NmError::new(Code::ResourceMath, format!("'{res}' overflows")))?;
        joined.set_value(res, sum);
    }
    for res in PORTS {
        joined.set_ports(res, a.ports(res).union(b.ports(res)));
    }
    Ok(joined)
}

/// The donated total of `repy node init` (§8) before ports.
pub struct Donation {
    pub cpu: Micro,
    pub memory: u64,
    pub disk: u64,
    /// Bytes/s, for netsend and for netrecv each (crate::share).
    pub net: u64,
    pub ports: (u16, u16),
}

/// The other rates and counts of a node, whatever its size.
const PER_NODE: [(Resource, u64); 10] = [
    (Resource::Events, 100),
    (Resource::Filewrite, 10_000_000),
    (Resource::Fileread, 10_000_000),
    (Resource::Filesopened, 100),
    (Resource::Insockets, 100),
    (Resource::Outsockets, 100),
    (Resource::Loopsend, 100_000_000),
    (Resource::Looprecv, 100_000_000),
    (Resource::Lograte, 1_000_000),
    (Resource::Random, 10_000),
];

/// The N initial vessels: `(D − N × offcut) / N` each, rounded down, and consecutive port blocks.
pub fn initial_shares(d: &Donation, n: u64, offcut: &Restrictions) -> Result<Vec<Restrictions>, String> {
    if n == 0 {
        return Err("--vessels must be at least 1".into());
    }
    let unit = |v: u64| Micro::from_units(v).ok_or_else(|| format!("value {v} is too large"));
    let mut total = Restrictions::default();
    total.set_value(Resource::Cpu, d.cpu);
    total.set_value(Resource::Memory, unit(d.memory)?);
    total.set_value(Resource::Diskused, unit(d.disk)?);
    total.set_value(Resource::Netsend, unit(d.net)?);
    total.set_value(Resource::Netrecv, unit(d.net)?);
    for (res, v) in PER_NODE {
        total.set_value(res, unit(v)?);
    }
    let mut share = Restrictions::default();
    for res in numeric() {
        let overhead = offcut.value(res).micros().checked_mul(n).ok_or("offcut overflows")?;
        let rest = total.value(res).micros().checked_sub(overhead).ok_or_else(|| {
            format!("not enough '{res}' for {n} vessels: {} donated, the offcut takes {} per vessel", total.value(res), offcut.value(res))
        })?;
        let mut each = rest / n;
        if res.is_integral() {
            each -= each % 1_000_000;
        }
        share.set_value(res, Micro::from_micros(each));
    }
    check_vessel(&share).map_err(|e| format!("{n} vessels would each get an invalid share: {e}"))?;
    let (a, b) = d.ports;
    if a > b || a == 0 {
        return Err(format!("invalid port range {a}-{b}"));
    }
    let count = (b - a) as u64 + 1;
    if n > count {
        return Err(format!("{n} vessels need at least {n} ports, the range {a}-{b} has {count}"));
    }
    let block = count / n;
    let mut out = Vec::new();
    for i in 0..n {
        let first = a as u64 + i * block;
        let last = if i == n - 1 { b as u64 } else { first + block - 1 };
        let mut ports = PortSet::new();
        ports.insert_range(first as u16, last as u16);
        let mut r = share.clone();
        r.set_ports(Resource::Messport, ports.clone());
        r.set_ports(Resource::Connport, ports);
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = "resource cpu 0.5\nresource memory 100000000\nresource diskused 50000000\nresource events 40\n\
resource filewrite 100000\nresource fileread 100000\nresource filesopened 10\nresource lograte 10000\n\
resource messport 63100-63149\nresource connport 63100-63149\n\ncall sleep allow\ncall open allow\n";

    fn offcut() -> Restrictions {
        parse_offcut(DEFAULT_OFFCUT).unwrap()
    }

    #[test]
    fn split_then_join_gives_back_the_original() {
        let original = parse_text(ORIGINAL).unwrap();
        let proposed = "resource cpu 0.1\nresource memory 20000000\nresource diskused 1000000\nresource events 5\n\
resource messport 63110-63119\nresource connport 63149\n";
        let (left, new) = split(&original, &offcut(), proposed).unwrap();
        assert_eq!(left.value(Resource::Cpu), Micro::parse("0.398").unwrap());
        assert_eq!(left.value(Resource::Memory), Micro::parse("79000000").unwrap());
        assert_eq!(left.value(Resource::Diskused), Micro::parse("48900000").unwrap());
        assert_eq!(left.value(Resource::Events), Micro::parse("33").unwrap());
        assert_eq!(new.value(Resource::Filewrite), Micro::ZERO);
        assert_eq!(left.ports(Resource::Messport).to_string(), "63100-63109, 63120-63149");
        assert!(!left.ports(Resource::Connport).contains(63149));
        assert_eq!(new.calls().len(), 2, "call lines are copied");
        assert_eq!(left.calls().len(), 2);
        let back = join(&left, &new, &offcut()).unwrap();
        assert_eq!(back, original);
        assert_eq!(back.to_canonical_text(), original.to_canonical_text());
        let text = left.to_canonical_text();
        assert!(text.starts_with("resource cpu 0.398\nresource memory 79000000\n"), "{text}");
        assert!(text.contains("resource messport 63100-63109\nresource messport 63120-63149\n"), "{text}");
        assert!(text.ends_with("\ncall sleep allow\ncall open allow\n"), "{text}");
    }

    #[test]
    fn split_refusals_name_the_resource() {
        let original = parse_text(ORIGINAL).unwrap();
        let base = "resource memory 1000000\nresource diskused 1000000\nresource events 1\n";
        let e = split(&original, &offcut(), &format!("resource cpu 0.499\n{base}")).unwrap_err();
        assert_eq!(e.code, Code::ResourceMath);
        assert!(e.message.contains("'cpu'") && e.message.contains("0.501") && e.message.contains("0.001"), "{}", e.message);
        let e = split(&original, &offcut(), &format!("resource cpu 0.1\n{base}resource connport 80\n")).unwrap_err();
        assert!(e.code == Code::ResourceMath && e.message.contains("port 80"), "{}", e.message);
        let e = split(&original, &offcut(), "resource cpu 0\nresource memory 1\n").unwrap_err();
        assert!(e.code == Code::BadResources && e.message.contains("'cpu' must be greater than 0"), "{}", e.message);
        let e = split(&original, &offcut(), &format!("resource cpu 0.1\n{base}call sleep allow\n")).unwrap_err();
        assert!(e.code == Code::BadResources && e.message.contains("call"), "{}", e.message);
        // Taking all events but one leaves a vessel with 1 event: still valid; all of them is not.
        let e = split(&original, &offcut(), "resource cpu 0.1\nresource memory 1000000\nresource diskused 1000000\nresource events 38\n")
            .unwrap_err();
        assert!(e.code == Code::ResourceMath && e.message.contains("events"), "{}", e.message);
        assert!(split(&original, &offcut(), "resource cpu 0.1\nresource memory 1000000\nresource diskused 1000000\nresource events 37\n")
            .is_ok());
    }

    #[test]
    fn initial_shares_divide_the_donation() {
        let d = Donation {
            cpu: Micro::parse("0.2").unwrap(),
            memory: 1_000_000_000,
            disk: 10_000_000_001,
            net: 9_000_000,
            ports: (63100, 63199),
        };
        let shares = initial_shares(&d, 3, &offcut()).unwrap();
        assert_eq!(shares.len(), 3);
        let s = &shares[0];
        assert_eq!(s.value(Resource::Cpu), Micro::parse("0.064666").unwrap());
        assert_eq!(s.value(Resource::Memory), Micro::parse("332333333").unwrap());
        assert_eq!(s.value(Resource::Events), Micro::parse("31").unwrap(), "(100 - 3 * 2) / 3 rounded down");
        assert_eq!(s.value(Resource::Random), Micro::parse("3333.333333").unwrap());
        assert_eq!(s.value(Resource::Netsend), Micro::parse("3000000").unwrap());
        assert_eq!(s.value(Resource::Netrecv), Micro::parse("3000000").unwrap());
        assert_eq!(shares[0].ports(Resource::Messport).to_string(), "63100-63132");
        assert_eq!(shares[1].ports(Resource::Connport).to_string(), "63133-63165");
        assert_eq!(shares[2].ports(Resource::Connport).to_string(), "63166-63199");
        let e = initial_shares(&d, 60, &offcut()).unwrap_err();
        assert!(e.contains("events"), "{e}");
        let d = Donation { ports: (63100, 63101), ..d };
        assert!(initial_shares(&d, 3, &offcut()).unwrap_err().contains("ports"));
    }
}
