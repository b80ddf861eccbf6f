//! Parsing restrictions files (restrictions.md §1) and their canonical text
//! (nodemanager.md §6).

use std::fmt;

use crate::{
    calls::{parse_call_line, CallRule},
    ports::PortSet,
    resource::Resource,
    value::Micro,
};

/// One problem in a restrictions file. The CLI prefixes `repy: restrictions file 'PATH', `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestrictionsError {
    /// 1-based line number; None means the end of the file (missing resources).
    pub line: Option<usize>,
    pub reason: String,
}

impl RestrictionsError {
    fn at(line: usize, reason: impl Into<String>) -> Self {
        RestrictionsError { line: Some(line), reason: reason.into() }
    }

    fn at_end(reason: impl Into<String>) -> Self {
        RestrictionsError { line: None, reason: reason.into() }
    }
}

/// `line N: REASON` or `end of file: REASON`.
impl fmt::Display for RestrictionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(n) => write!(f, "line {n}: {}", self.reason),
            None => write!(f, "end of file: {}", self.reason),
        }
    }
}

impl std::error::Error for RestrictionsError {}

/// A valid restrictions file: numeric limits (missing ones are 0), port sets and call rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restrictions {
    values: [Micro; Resource::COUNT],
    messport: PortSet,
    connport: PortSet,
    calls: Vec<CallRule>,
}

static NO_PORTS: PortSet = PortSet::new();

/// Resources every file must name.
const REQUIRED: [Resource; 3] = [Resource::Cpu, Resource::Memory, Resource::Diskused];

/// Lower bounds checked after parsing: (resource, least micro-units, reason).
const MINIMUMS: [(Resource, u64, &str); 4] = [
    (Resource::Cpu, 1, "'cpu' must be greater than 0"),
    (Resource::Memory, 1_000_000, "'memory' must be at least 1"),
    (Resource::Diskused, 1_000_000, "'diskused' must be at least 1"),
    (Resource::Events, 1_000_000, "'events' must be at least 1"),
];

/// Parses a restrictions file, reporting every error found (in line order, end-of-file
/// errors last).
pub fn parse(text: &str) -> Result<Restrictions, Vec<RestrictionsError>> {
    let mut r = Restrictions::default();
    let mut errors = Vec::new();
    // Line of the first mention of each numeric resource, and whether its value was valid.
    let mut first_line: [Option<usize>; Resource::COUNT] = [None; Resource::COUNT];
    let mut valid = [false; Resource::COUNT];

    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let content = raw.split('#').next().unwrap_or("");
        let tokens: Vec<&str> = content.split([' ', '\t']).filter(|t| !t.is_empty()).collect();
        let Some(&keyword) = tokens.first() else { continue };
        match keyword {
            "resource" => {
                if let Err(reason) = r.resource_line(&tokens, line, &mut first_line, &mut valid) {
                    errors.push(RestrictionsError::at(line, reason));
                }
            }
            "call" => match parse_call_line(&tokens, line, content.trim_matches([' ', '\t'])) {
                Ok(rule) => r.calls.push(rule),
                Err(reason) => errors.push(RestrictionsError::at(line, reason)),
            },
            other => {
                errors.push(RestrictionsError::at(line, format!("unknown keyword '{other}' (a line starts with 'resource' or 'call')")))
            }
        }
    }

    for res in REQUIRED {
        if first_line[res.index()].is_none() {
            errors.push(RestrictionsError::at_end(format!("missing required resource '{res}'")));
        }
    }
    for (res, least, reason) in MINIMUMS {
        let i = res.index();
        match first_line[i] {
            Some(line) if valid[i] && r.values[i].micros() < least => errors.push(RestrictionsError::at(line, reason)),
            // Required ones are already reported as missing; others count as 0.
            None if !REQUIRED.contains(&res) && least > 0 => {
                errors.push(RestrictionsError::at_end(format!("{reason} (it is 0 when not mentioned)")))
            }
            _ => {}
        }
    }
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(errors)
    }
}

impl Restrictions {
    /// Applies one `resource NAME VALUE` line.
    fn resource_line(
        &mut self,
        tokens: &[&str],
        line: usize,
        first_line: &mut [Option<usize>; Resource::COUNT],
        valid: &mut [bool; Resource::COUNT],
    ) -> Result<(), String> {
        if tokens.len() != 3 {
            return Err(format!("a resource line has exactly 3 tokens ('resource NAME VALUE'), this one has {}", tokens.len()));
        }
        let (name, text) = (tokens[1], tokens[2]);
        let res = Resource::from_name(name).ok_or_else(|| format!("unknown resource '{name}'"))?;
        let invalid = |why: &dyn fmt::Display| format!("invalid value '{text}' for '{name}' ({why})");
        if res.is_port() {
            let ports = PortSet::parse(text).map_err(|e| invalid(&e))?;
            self.ports_mut(res).extend(&ports);
            return Ok(());
        }
        let i = res.index();
        if let Some(first) = first_line[i] {
            return Err(format!("duplicate resource '{name}' (first on line {first})"));
        }
        first_line[i] = Some(line);
        let value = Micro::parse(text).map_err(|e| invalid(&e))?;
        if res.is_integral() && !value.is_whole() {
            return Err(invalid(&"must be a whole number"));
        }
        self.values[i] = value;
        valid[i] = true;
        Ok(())
    }

    fn ports_mut(&mut self, res: Resource) -> &mut PortSet {
        match res {
            Resource::Messport => &mut self.messport,
            Resource::Connport => &mut self.connport,
            _ => panic!("'{res}' is not a port resource"),
        }
    }

    /// The limit as a float (0 for port resources), for metering.
    pub fn limit(&self, res: Resource) -> f64 {
        self.values[res.index()].as_f64()
    }

    /// The exact value (zero for port resources and for resources not mentioned).
    pub fn value(&self, res: Resource) -> Micro {
        self.values[res.index()]
    }

    /// The port set of `messport`/`connport`; an empty set for any other resource.
    pub fn ports(&self, res: Resource) -> &PortSet {
        match res {
            Resource::Messport => &self.messport,
            Resource::Connport => &self.connport,
            _ => &NO_PORTS,
        }
    }

    /// The call rules in file order.
    pub fn calls(&self) -> &[CallRule] {
        &self.calls
    }

    /// Whether the file has any call line (if not, every call is allowed).
    pub fn has_call_rules(&self) -> bool {
        !self.calls.is_empty()
    }

    /// Sets a numeric value (for resource arithmetic in the node manager).
    ///
    /// # Panics
    /// If `res` is a port resource.
    pub fn set_value(&mut self, res: Resource, value: Micro) {
        assert!(!res.is_port(), "'{res}' is not a numeric resource");
        self.values[res.index()] = value;
    }

    /// Replaces the port set of `messport`/`connport`.
    ///
    /// # Panics
    /// If `res` is not a port resource.
    pub fn set_ports(&mut self, res: Resource, ports: PortSet) {
        *self.ports_mut(res) = ports;
    }

    /// Replaces the call rules (the NM copies them verbatim between vessels).
    pub fn set_calls(&mut self, calls: Vec<CallRule>) {
        self.calls = calls;
    }

    /// The canonical file text of nodemanager.md §6: every numeric resource in §3 order
    /// (zeros included), then port lines ascending, then a blank line and the call lines.
    pub fn to_canonical_text(&self) -> String {
        let mut out = String::new();
        for &res in Resource::ALL.iter().filter(|r| !r.is_port()) {
            out.push_str(&format!("resource {res} {}\n", self.value(res)));
        }
        for res in [Resource::Messport, Resource::Connport] {
            for text in self.ports(res).range_texts() {
                out.push_str(&format!("resource {res} {text}\n"));
            }
        }
        if !self.calls.is_empty() {
            out.push('\n');
            for rule in &self.calls {
                out.push_str(&rule.text);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::{Action, Condition};

    const BASE: &str = "resource cpu 0.5\nresource memory 1000000\nresource diskused 1000000\nresource events 10\n";

    fn errors(text: &str) -> Vec<RestrictionsError> {
        parse(text).expect_err("file should be invalid")
    }

    /// Appends `line` after BASE (so it is line 5) and expects exactly one error there.
    fn single_error_on_line_5(line: &str) -> String {
        let errs = errors(&format!("{BASE}{line}\n"));
        assert_eq!(errs.len(), 1, "{line:?}: {errs:?}");
        assert_eq!(errs[0].line, Some(5), "{line:?}: {errs:?}");
        errs[0].reason.clone()
    }

    #[test]
    fn base_is_valid() {
        let r = parse(BASE).unwrap();
        assert_eq!(r.limit(Resource::Cpu), 0.5);
        assert_eq!(r.value(Resource::Events), Micro::parse("10").unwrap());
        assert_eq!(r.limit(Resource::Netsend), 0.0, "unmentioned resources are 0");
        assert!(r.ports(Resource::Messport).is_empty());
        assert!(!r.has_call_rules());
    }

    #[test]
    fn every_row_of_the_error_table() {
        let cases: &[(&str, &[&str])] = &[
            ("resauce events 10", &["resauce"]),
            ("resource memory 1000000000 13.3", &["3 tokens"]),
            ("resource cpu", &["3 tokens"]),
            ("resource the_events 10", &["unknown resource", "the_events"]),
            ("resource filewrite abc", &["invalid value", "abc", "filewrite"]),
            ("resource filewrite -1", &["invalid value", "-1"]),
            ("resource filewrite 1e3", &["invalid value", "1e3"]),
            ("resource filewrite 0.1234567", &["invalid value", "6 digits"]),
            ("resource filesopened 2.5", &["invalid value", "2.5", "whole"]),
            ("resource messport 0", &["invalid value", "messport"]),
            ("resource connport 70000", &["invalid value", "70000"]),
            ("resource connport 20-10", &["invalid value", "20-10"]),
            ("resource cpu 10", &["duplicate resource 'cpu' (first on line 1)"]),
            ("call foo allow", &["unknown call", "foo"]),
            ("call Sleep allow", &["unknown call", "Sleep"]),
            ("call sleep permit", &["unknown action", "permit"]),
            ("call sleep", &["incomplete"]),
            ("call", &["incomplete"]),
            ("call open arg 1 is allow", &["incomplete 'arg'"]),
            ("call open arg abc is r allow", &["abc", "integer"]),
            ("call open arg -1 is r allow", &["-1", "integer"]),
            ("call open arg 2 iss r allow", &["expected 'is'", "iss"]),
            ("call open noargs 2 allow", &["incomplete 'noargs'"]),
            ("call open noargs iss 2 allow", &["expected 'is'", "iss"]),
            ("call open noargs is abc allow", &["abc", "integer"]),
            ("call open mode is r allow", &["unknown condition", "mode"]),
        ];
        for (line, needles) in cases {
            let reason = single_error_on_line_5(line);
            for needle in *needles {
                assert!(reason.contains(needle), "{line:?} gave {reason:?}, expected {needle:?}");
            }
        }
    }

    #[test]
    fn missing_required_resources_are_reported_at_end_of_file() {
        let errs = errors("resource memory 1000\nresource events 1\n");
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown, ["end of file: missing required resource 'cpu'", "end of file: missing required resource 'diskused'"]);
    }

    #[test]
    fn minimums_are_checked_on_their_line() {
        let text = "resource cpu 0\nresource memory 0\nresource diskused 0.0\nresource events 0\n";
        let shown: Vec<String> = errors(text).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            [
                "line 1: 'cpu' must be greater than 0",
                "line 2: 'memory' must be at least 1",
                "line 3: 'diskused' must be at least 1",
                "line 4: 'events' must be at least 1",
            ]
        );
        let errs = errors("resource cpu 0.000001\nresource memory 1\nresource diskused 1\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].line, None);
        assert!(errs[0].reason.starts_with("'events' must be at least 1"), "{errs:?}");
        assert!(parse("resource cpu 0.000001\nresource memory 1\nresource diskused 1\nresource events 1").is_ok());
    }

    #[test]
    fn three_mistakes_give_three_errors_in_line_order() {
        let text = "resource cpu 0.5\nresource memory 1000000\n# a comment\nresauce events 10\nresource diskused 1000000\nresource events abc\ncall sleep permit\n";
        let errs = errors(text);
        let lines: Vec<Option<usize>> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(4), Some(6), Some(7)], "{errs:?}");
        assert!(errs[1].reason.contains("abc") && errs[2].reason.contains("permit"));
    }

    #[test]
    fn errors_everywhere_are_all_reported() {
        let text = "bogus\nresource cpu x\ncall open arg 1\nresource cpu 1\nresource memory 1.5\n";
        let errs = errors(text);
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 7, "{shown:?}");
        assert!(shown[0].starts_with("line 1: "));
        assert!(shown[1].starts_with("line 2: invalid value 'x' for 'cpu'"));
        assert!(shown[2].starts_with("line 3: "), "{shown:?}");
        assert_eq!(shown[3], "line 4: duplicate resource 'cpu' (first on line 2)");
        assert!(shown[4].starts_with("line 5: invalid value '1.5' for 'memory'"));
        assert_eq!(shown[5], "end of file: missing required resource 'diskused'");
        assert!(shown[6].starts_with("end of file: 'events' must be at least 1"));
    }

    #[test]
    fn comments_crlf_tabs_and_blank_lines() {
        let text = "# header\r\n\r\n\tresource\tcpu\t1   # one core\r\nresource memory 1000#no space before\r\n   \r\nresource diskused 2.\r\nresource events 1.000\r\ncall\topen  allow # trailing\r\n";
        let r = parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.limit(Resource::Cpu), 1.0);
        assert_eq!(r.limit(Resource::Memory), 1000.0);
        assert_eq!(r.limit(Resource::Diskused), 2.0);
        assert_eq!(r.limit(Resource::Events), 1.0);
        // `#` anywhere cuts the line: `call open arg 0 is a` leaves `a` as the action.
        let errs = errors(&format!("{BASE}call open arg 0 is a#b allow\n"));
        assert!(errs[0].reason.contains("unknown action 'a'"), "{errs:?}");
        assert_eq!(r.calls().len(), 1);
        assert_eq!(r.calls()[0].text, "call\topen  allow");
        assert_eq!(r.calls()[0].line, 8);
    }

    #[test]
    fn call_rules_keep_line_and_trimmed_text() {
        let r = parse(&format!("{BASE}\n  call open arg 1 is w\tdeny   # no writes\ncall sleep noargs is 1 prompt\n")).unwrap();
        let rules = r.calls();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].line, 6);
        assert_eq!(rules[0].text, "call open arg 1 is w\tdeny");
        assert_eq!(rules[0].conditions, [Condition::Arg { index: 1, value: "w".into() }]);
        assert_eq!(rules[0].action, Action::Deny);
        assert_eq!(rules[1].conditions, [Condition::NoArgs(1)]);
        assert_eq!(rules[1].action, Action::Prompt);
        assert!(r.has_call_rules());
    }

    #[test]
    fn ports_accumulate_over_lines() {
        let r = parse(&format!(
            "{BASE}resource messport 12345\nresource messport 12345\nresource connport 63100-63199\nresource connport 80\n"
        ))
        .unwrap();
        assert!(r.ports(Resource::Messport).contains(12345));
        assert_eq!(r.ports(Resource::Messport).len(), 1);
        assert!(r.ports(Resource::Connport).contains(63150) && r.ports(Resource::Connport).contains(80));
        assert!(!r.ports(Resource::Connport).contains(12345));
        assert!(r.ports(Resource::Cpu).is_empty());
    }

    #[test]
    fn spec_complete_example_parses() {
        let example = include_str!("../tests/data/example.restrictions");
        let r = parse(example).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.limit(Resource::Cpu), 0.25);
        assert_eq!(r.limit(Resource::Random), 50.0);
        assert_eq!(r.ports(Resource::Connport).to_string(), "12345, 63100-63199");
        assert_eq!(r.calls().len(), 38);
        assert_eq!(r.calls()[3].text, "call openconn arg 0 is 127.0.0.1 allow");
        assert!(r.decide("openconn", &["127.0.0.1", "12345"]).is_allowed());
        assert!(!r.decide("openconn", &["10.1.1.1", "12345"]).is_allowed());
        assert!(r.decide("open", &["x"]).is_allowed());
        assert!(!r.decide("open", &["x", "w"]).is_allowed());
        assert!(r.decide("open", &["data.txt", "w"]).is_allowed());
        assert!(!r.decide("removefile", &["data.txt"]).is_allowed());
        assert!(!r.decide("log.writelines", &["x"]).is_allowed());
    }

    #[test]
    fn canonical_text() {
        let r = parse(
            "resource cpu .25\nresource memory 50000000.0\nresource diskused 20000000\nresource events 12\nresource random 2.50\n\
             resource connport 7\nresource messport 12346\nresource messport 12345\nresource connport 5-6\nresource connport 9\n\
             \ncall sleep  allow   # comment\ncall open deny\n",
        )
        .unwrap();
        let expected = "resource cpu 0.25\nresource memory 50000000\nresource diskused 20000000\nresource events 12\n\
             resource filewrite 0\nresource fileread 0\nresource filesopened 0\nresource insockets 0\nresource outsockets 0\n\
             resource netsend 0\nresource netrecv 0\nresource loopsend 0\nresource looprecv 0\nresource lograte 0\n\
             resource random 2.5\nresource messport 12345-12346\nresource connport 5-7\nresource connport 9\n\
             \ncall sleep  allow\ncall open deny\n";
        let text = r.to_canonical_text();
        assert_eq!(text, expected);
        let again = parse(&text).unwrap();
        assert_eq!(again.to_canonical_text(), text);
        assert_eq!(again.value(Resource::Random), r.value(Resource::Random));
        assert_eq!(again.ports(Resource::Connport), r.ports(Resource::Connport));

        let no_calls = parse(BASE).unwrap().to_canonical_text();
        assert!(no_calls.ends_with("resource random 0\n"), "{no_calls}");
    }

    #[test]
    fn setters_support_resource_arithmetic() {
        let mut r = parse(BASE).unwrap();
        r.set_value(Resource::Netsend, Micro::parse("1.5").unwrap());
        r.set_ports(Resource::Messport, PortSet::parse("100-101").unwrap());
        let text = r.to_canonical_text();
        assert!(text.contains("resource netsend 1.5\n") && text.contains("resource messport 100-101\n"), "{text}");
    }
}
