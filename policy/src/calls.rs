//! Call lines and the allow/deny decision for API calls (restrictions.md §1.2, §2).

use crate::Restrictions;

/// Every call name a call line may use (restrictions.md §2).
pub const CALL_NAMES: &[&str] = &[
    "open",
    "file.__init__",
    "file.close",
    "file.flush",
    "file.next",
    "file.read",
    "file.readline",
    "file.readlines",
    "file.seek",
    "file.write",
    "file.writelines",
    "listdir",
    "getmyip",
    "exitall",
    "randomfloat",
    "getruntime",
    "getlock",
    "get_thread_name",
    "canceltimer",
    "stopcomm",
    "socket.close",
    "VirtualNamespace",
    "removefile",
    "gethostbyname_ex",
    "sendmess",
    "recvmess",
    "waitforconn",
    "openconn",
    "socket.send",
    "socket.recv",
    "settimer",
    "sleep",
    "log.write",
    "log.writelines",
];

/// The last token of a call line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
    /// Behaves exactly like `Deny`: there is nobody to ask.
    Prompt,
}

impl Action {
    pub fn from_keyword(word: &str) -> Option<Action> {
        match word {
            "allow" => Some(Action::Allow),
            "deny" => Some(Action::Deny),
            "prompt" => Some(Action::Prompt),
            _ => None,
        }
    }

    pub fn allows(self) -> bool {
        self == Action::Allow
    }
}

/// One condition of a call line; all conditions of a line must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// `arg N is VALUE`: there are more than N arguments and `str()` of argument N is VALUE.
    Arg { index: usize, value: String },
    /// `noargs is N`: there are exactly N arguments.
    NoArgs(usize),
}

impl Condition {
    pub fn holds<S: AsRef<str>>(&self, args: &[S]) -> bool {
        match self {
            Condition::Arg { index, value } => args.get(*index).is_some_and(|a| a.as_ref() == value),
            Condition::NoArgs(n) => args.len() == *n,
        }
    }
}

/// A parsed call line, with what messages need to quote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRule {
    pub call: String,
    pub conditions: Vec<Condition>,
    pub action: Action,
    /// 1-based line number in the file it came from.
    pub line: usize,
    /// The line without its comment, trimmed (quoted in denial messages, kept verbatim by the NM).
    pub text: String,
}

impl CallRule {
    pub fn matches<S: AsRef<str>>(&self, call: &str, args: &[S]) -> bool {
        self.call == call && self.conditions.iter().all(|c| c.holds(args))
    }
}

/// The outcome of checking one API call against the call rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallDecision {
    Allow,
    /// The first matching rule denies (`deny` or `prompt`).
    Deny {
        line: usize,
        rule: String,
    },
    /// Rules exist but none for this call holds: denied.
    NoRule,
}

impl CallDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, CallDecision::Allow)
    }

    /// The ResourceForbiddenError message of a denial (restrictions.md §1.2). `args_repr` is the
    /// Python repr of the argument tuple, e.g. `('data.txt', 'w')` or `(0.5,)`. Only meaningful
    /// for denials; `Allow` gives `CALL: allowed`.
    pub fn message(&self, call: &str, args_repr: &str) -> String {
        match self {
            CallDecision::Allow => format!("{call}: allowed"),
            CallDecision::Deny { line, rule } => {
                format!("{call}: denied by restrictions line {line} ('{rule}') for arguments {args_repr}")
            }
            CallDecision::NoRule => format!("{call}: no rule in the restrictions file allows arguments {args_repr}"),
        }
    }
}

impl Restrictions {
    /// Whether a rule for `call` looks at its arguments' texts (`arg N is ...`); if none
    /// does, only their number matters and the texts need not be computed.
    pub fn call_reads_arg_texts(&self, call: &str) -> bool {
        self.calls().iter().any(|rule| rule.call == call && rule.conditions.iter().any(|c| matches!(c, Condition::Arg { .. })))
    }

    /// Decides an API call from the `str()` texts of its arguments: the first rule for `call`
    /// whose conditions all hold decides; none → denied; a file without call lines allows all.
    pub fn decide<S: AsRef<str>>(&self, call: &str, args: &[S]) -> CallDecision {
        if !self.has_call_rules() {
            return CallDecision::Allow;
        }
        match self.calls().iter().find(|rule| rule.matches(call, args)) {
            Some(rule) if rule.action.allows() => CallDecision::Allow,
            Some(rule) => CallDecision::Deny { line: rule.line, rule: rule.text.clone() },
            None => CallDecision::NoRule,
        }
    }
}

/// A non-negative integer written with digits only.
fn parse_count(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses the tokens of a call line (`tokens[0] == "call"`); Err is the reason of
/// restrictions.md §1.3. Reports the first problem of the line.
pub(crate) fn parse_call_line(tokens: &[&str], line: usize, text: &str) -> Result<CallRule, String> {
    const SHAPE: &str = "expected 'call NAME [CONDITION ...] ACTION'";
    let Some(&name) = tokens.get(1) else {
        return Err(format!("incomplete call line ({SHAPE})"));
    };
    if !CALL_NAMES.contains(&name) {
        return Err(format!("unknown call '{name}'"));
    }
    if tokens.len() < 3 {
        return Err(format!("incomplete call line, no action ({SHAPE})"));
    }
    let last = tokens[tokens.len() - 1];
    let action = Action::from_keyword(last).ok_or_else(|| format!("unknown action '{last}' (expected allow, deny or prompt)"))?;
    let words = &tokens[2..tokens.len() - 1];
    let mut conditions = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match words[i] {
            "arg" => {
                if words.len() - i < 4 {
                    return Err("incomplete 'arg' condition (expected 'arg N is VALUE')".into());
                }
                let index =
                    parse_count(words[i + 1]).ok_or_else(|| format!("'arg' number '{}' is not a non-negative integer", words[i + 1]))?;
                if words[i + 2] != "is" {
                    return Err(format!("expected 'is' after 'arg {}', found '{}'", words[i + 1], words[i + 2]));
                }
                conditions.push(Condition::Arg { index, value: words[i + 3].to_string() });
                i += 4;
            }
            "noargs" => {
                if words.len() - i < 3 {
                    return Err("incomplete 'noargs' condition (expected 'noargs is N')".into());
                }
                if words[i + 1] != "is" {
                    return Err(format!("expected 'is' after 'noargs', found '{}'", words[i + 1]));
                }
                let n =
                    parse_count(words[i + 2]).ok_or_else(|| format!("'noargs' count '{}' is not a non-negative integer", words[i + 2]))?;
                conditions.push(Condition::NoArgs(n));
                i += 3;
            }
            other => return Err(format!("unknown condition '{other}' (expected 'arg' or 'noargs')")),
        }
    }
    Ok(CallRule { call: name.to_string(), conditions, action, line, text: text.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    const BASE: &str = "resource cpu 1\nresource memory 1000\nresource diskused 1000\nresource events 2\n";

    fn with_calls(calls: &str) -> Restrictions {
        parse(&format!("{BASE}{calls}")).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn d(r: &Restrictions, call: &str, args: &[&str]) -> CallDecision {
        r.decide(call, args)
    }

    #[test]
    fn no_call_lines_allow_everything() {
        let r = with_calls("");
        assert!(!r.has_call_rules());
        assert_eq!(d(&r, "open", &["x", "w"]), CallDecision::Allow);
        assert_eq!(d(&r, "VirtualNamespace", &[]), CallDecision::Allow);
    }

    #[test]
    fn one_call_line_denies_every_other_call() {
        let r = with_calls("call sleep allow\n");
        assert_eq!(d(&r, "sleep", &["1"]), CallDecision::Allow);
        assert_eq!(d(&r, "open", &["x"]), CallDecision::NoRule);
        assert_eq!(d(&r, "getruntime", &[]), CallDecision::NoRule);
    }

    #[test]
    fn first_matching_rule_decides_in_file_order() {
        let r = with_calls("call openconn arg 0 is 127.0.0.1 allow   # loopback only\ncall openconn deny\ncall openconn allow\n");
        assert_eq!(d(&r, "openconn", &["127.0.0.1", "80"]), CallDecision::Allow);
        assert_eq!(d(&r, "openconn", &["10.0.0.1", "80"]), CallDecision::Deny { line: 6, rule: "call openconn deny".into() });
        let r = with_calls("call open allow\ncall open arg 1 is w deny\n");
        assert_eq!(d(&r, "open", &["a", "w"]), CallDecision::Allow);
    }

    #[test]
    fn arg_conditions_need_enough_arguments_and_exact_text() {
        let r = with_calls("call sleep arg 0 is 0.1 allow\ncall open arg 1 is r allow\n");
        assert_eq!(d(&r, "sleep", &["0.1"]), CallDecision::Allow);
        assert_eq!(d(&r, "sleep", &[".1"]), CallDecision::NoRule);
        assert_eq!(d(&r, "open", &["a"]), CallDecision::NoRule, "arg 1 absent");
        assert_eq!(d(&r, "open", &["a", "r"]), CallDecision::Allow);
        assert_eq!(d(&r, "open", &["a", "rb"]), CallDecision::NoRule);
    }

    #[test]
    fn only_arg_conditions_read_argument_texts() {
        let r = with_calls("call sleep arg 0 is 0.1 allow\ncall open noargs is 1 allow\ncall socket.send allow\n");
        assert!(r.call_reads_arg_texts("sleep"));
        assert!(!r.call_reads_arg_texts("open"));
        assert!(!r.call_reads_arg_texts("socket.send"));
        assert!(!r.call_reads_arg_texts("listdir"));
    }

    #[test]
    fn noargs_and_conjunction() {
        let r = with_calls(
            "call open noargs is 1 allow\ncall file.read noargs is 0 allow\ncall open arg 0 is a arg 1 is w noargs is 2 allow\n",
        );
        assert_eq!(d(&r, "open", &["zz"]), CallDecision::Allow);
        assert_eq!(d(&r, "open", &["zz", "r"]), CallDecision::NoRule);
        assert_eq!(d(&r, "open", &["a", "w"]), CallDecision::Allow);
        assert_eq!(d(&r, "open", &["b", "w"]), CallDecision::NoRule);
        assert_eq!(d(&r, "file.read", &[]), CallDecision::Allow);
        assert_eq!(d(&r, "file.read", &["10"]), CallDecision::NoRule);
    }

    #[test]
    fn prompt_behaves_like_deny() {
        let r = with_calls("call removefile prompt\ncall removefile allow\n");
        assert_eq!(d(&r, "removefile", &["a"]), CallDecision::Deny { line: 5, rule: "call removefile prompt".into() });
    }

    #[test]
    fn accepts_owned_strings() {
        let r = with_calls("call open arg 0 is a allow\n");
        let texts: Vec<String> = vec!["a".into()];
        assert!(r.decide("open", &texts).is_allowed());
    }

    #[test]
    fn messages_follow_the_spec() {
        let r = with_calls("\t call open arg 1 is w deny   # no writing\n");
        let denied = d(&r, "open", &["data.txt", "w"]);
        assert_eq!(
            denied.message("open", "('data.txt', 'w')"),
            "open: denied by restrictions line 5 ('call open arg 1 is w deny') for arguments ('data.txt', 'w')"
        );
        assert_eq!(CallDecision::NoRule.message("sleep", "(0.5,)"), "sleep: no rule in the restrictions file allows arguments (0.5,)");
    }
}
