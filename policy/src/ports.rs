//! Port sets for `messport` and `connport` (restrictions.md §1.1, §4.7). Stored as merged
//! ranges so `1024-65535` costs one entry, not 64512.

use std::fmt;

/// A set of ports 1..=65535 as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

/// Why a port value text is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortError;

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a port 1-65535 or a range A-B with A <= B")
    }
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&p| p >= 1)
}

impl PortSet {
    pub const fn new() -> PortSet {
        PortSet { ranges: Vec::new() }
    }

    /// Parses one value of a port line: `P` or `A-B` (1 ≤ A ≤ B ≤ 65535).
    pub fn parse(text: &str) -> Result<PortSet, PortError> {
        let (a, b) = match text.split_once('-') {
            Some((a, b)) => (parse_port(a).ok_or(PortError)?, parse_port(b).ok_or(PortError)?),
            None => {
                let p = parse_port(text).ok_or(PortError)?;
                (p, p)
            }
        };
        if a > b {
            return Err(PortError);
        }
        let mut set = PortSet::new();
        set.insert_range(a, b);
        Ok(set)
    }

    /// Adds `a..=b` (ignored if `a > b`), keeping the ranges merged.
    pub fn insert_range(&mut self, a: u16, b: u16) {
        if a > b {
            return;
        }
        let (mut lo, mut hi) = (a, b);
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for &(x, y) in &self.ranges {
            // Overlapping or adjacent ranges merge into one run.
            if u32::from(y) + 1 < u32::from(lo) || u32::from(hi) + 1 < u32::from(x) {
                kept.push((x, y));
            } else {
                lo = lo.min(x);
                hi = hi.max(y);
            }
        }
        kept.push((lo, hi));
        kept.sort_unstable();
        self.ranges = kept;
    }

    pub fn insert(&mut self, port: u16) {
        self.insert_range(port, port);
    }

    pub fn contains(&self, port: u16) -> bool {
        // Ranges are sorted: find the last range starting at or before `port`.
        let i = self.ranges.partition_point(|&(a, _)| a <= port);
        i > 0 && self.ranges[i - 1].1 >= port
    }

    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut out = self.clone();
        out.extend(other);
        out
    }

    /// Adds every port of `other`.
    pub fn extend(&mut self, other: &PortSet) {
        for &(a, b) in &other.ranges {
            self.insert_range(a, b);
        }
    }

    /// The ports of `self` that are not in `other` (leftover ports of a split).
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::new();
        for &(a, b) in &self.ranges {
            let mut start = u32::from(a);
            let end = u32::from(b);
            for &(x, y) in &other.ranges {
                let (x, y) = (u32::from(x), u32::from(y));
                if y < start || x > end {
                    continue;
                }
                if x > start {
                    out.insert_range(start as u16, (x - 1) as u16);
                }
                start = y + 1;
            }
            if start <= end {
                out.insert_range(start as u16, end as u16);
            }
        }
        out
    }

    /// The lowest port of `self` missing from `other`; None when `self` ⊆ `other`.
    pub fn first_missing_from(&self, other: &PortSet) -> Option<u16> {
        self.difference(other).ranges.first().map(|&(a, _)| a)
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of ports in the set.
    pub fn len(&self) -> u32 {
        self.ranges.iter().map(|&(a, b)| u32::from(b) - u32::from(a) + 1).sum()
    }

    /// The merged inclusive ranges in ascending order.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// The value text of each range as a restrictions file writes it: `P` or `A-B`.
    pub fn range_texts(&self) -> impl Iterator<Item = String> + '_ {
        self.ranges.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
    }
}

/// Ranges separated by `, `, each written `P` or `A-B`.
impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, text) in self.range_texts().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(parts: &[&str]) -> PortSet {
        let mut s = PortSet::new();
        for p in parts {
            s.extend(&PortSet::parse(p).unwrap());
        }
        s
    }

    #[test]
    fn parses_ports_and_ranges() {
        assert_eq!(PortSet::parse("12345").unwrap().ranges(), &[(12345, 12345)]);
        assert_eq!(PortSet::parse("63100-63199").unwrap().ranges(), &[(63100, 63199)]);
        assert_eq!(PortSet::parse("1-65535").unwrap().len(), 65535);
        assert_eq!(PortSet::parse("7-7").unwrap().ranges(), &[(7, 7)]);
        for bad in ["0", "65536", "-5", "5-", "9-3", "a", "", "1-2-3", "+5", "0-10", "1 - 2", "70000-70001"] {
            assert_eq!(PortSet::parse(bad), Err(PortError), "{bad:?}");
        }
    }

    #[test]
    fn union_merges_overlapping_and_adjacent_runs() {
        let s = set(&["5", "10-20", "15-25", "26", "4", "100", "100"]);
        assert_eq!(s.ranges(), &[(4, 5), (10, 26), (100, 100)]);
        assert_eq!(s.len(), 2 + 17 + 1);
        let t = s.union(&set(&["6-9"]));
        assert_eq!(t.ranges(), &[(4, 26), (100, 100)]);
        assert_eq!(set(&["65535", "1"]).ranges(), &[(1, 1), (65535, 65535)]);
    }

    #[test]
    fn contains_checks_range_bounds() {
        let s = set(&["1024-2048", "12345"]);
        for (p, expected) in
            [(1023, false), (1024, true), (2048, true), (2049, false), (12345, true), (12346, false), (0, false), (1, false)]
        {
            assert_eq!(s.contains(p), expected, "{p}");
        }
        assert!(!PortSet::new().contains(80));
    }

    #[test]
    fn display_writes_runs_as_ranges() {
        assert_eq!(set(&["12345", "63100-63199", "12346", "80"]).to_string(), "80, 12345-12346, 63100-63199");
        assert_eq!(set(&["5"]).to_string(), "5");
        assert_eq!(PortSet::new().to_string(), "");
    }

    #[test]
    fn difference_and_subset() {
        let all = set(&["100-200", "300"]);
        let part = set(&["150-160", "300"]);
        assert_eq!(all.difference(&part).ranges(), &[(100, 149), (161, 200)]);
        assert_eq!(part.first_missing_from(&all), None);
        assert_eq!(set(&["150", "250"]).first_missing_from(&all), Some(250));
        assert_eq!(all.difference(&all), PortSet::new());
        assert_eq!(set(&["1-65535"]).difference(&set(&["1", "65535"])).ranges(), &[(2, 65534)]);
    }
}
