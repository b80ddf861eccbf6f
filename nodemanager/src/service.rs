//! The service definitions of `repy node install`: a systemd unit (Linux), a launchd plist
//! (macOS) and a Task Scheduler task (Windows), each running `repy node run --dir DIR` at boot
//! and again when it fails. Plain text functions, built and tested on every system; the
//! commands that register them are in `repy_portability::service`.

use std::path::{Path, PathBuf};

/// What a service runs: `exe node run --dir dir`, both absolute.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub exe: PathBuf,
    pub dir: PathBuf,
    /// The user id a system unit runs as: the owner of `dir` when that is not root, so that a
    /// node made by a user is not run with root's rights once root installs it.
    pub run_as: Option<u32>,
}

impl ServiceSpec {
    /// The command line, one argument each.
    pub fn args(&self) -> Vec<String> {
        vec![self.exe.display().to_string(), "node".into(), "run".into(), "--dir".into(), self.dir.display().to_string()]
    }

    /// `repy-node-NAME-HASH`: NAME is the directory's last component made safe for unit and
    /// task names, HASH the first 8 hex digits of the SHA-256 of the whole path, so that two
    /// nodes called `state` in different places do not clash.
    pub fn name(&self) -> String {
        service_name(&self.dir)
    }
}

/// See [`ServiceSpec::name`].
pub fn service_name(dir: &Path) -> String {
    let base = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut safe: String = base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).take(32).collect();
    if safe.trim_matches('-').is_empty() {
        safe = "node".into();
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, dir.as_os_str().as_encoded_bytes());
    let hash: String = digest.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("repy-node-{safe}-{hash}")
}

/// The systemd unit file name for `dir`.
pub fn unit_file_name(dir: &Path) -> String {
    format!("{}.service", service_name(dir))
}

/// One argument of a unit's `ExecStart=` as systemd reads it: `%` (specifiers) and `$`
/// (variables) doubled, and double quotes, with `\` and `"` escaped, around one that is empty
/// or holds white space, quotes or backslashes.
pub fn systemd_quote(arg: &str) -> String {
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    if !escaped.is_empty() && !escaped.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';')) {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Splits an `ExecStart=` value back into arguments (the inverse of [`systemd_quote`]).
pub fn systemd_unquote(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { return Ok(args) };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quote in '{line}'")),
                    Some('"') => break,
                    Some('\\') => arg.push(chars.next().ok_or_else(|| format!("dangling backslash in '{line}'"))?),
                    Some(c) => arg.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                arg.push(c);
            }
        }
        args.push(arg.replace("%%", "%").replace("$$", "$"));
    }
}

/// The unit: started after the network is up, restarted 5 s after any exit, for the whole
/// machine (`multi-user.target`) or, with `user`, the user's session (`default.target`).
/// `KillMode=mixed` lets the node manager stop its vessels itself on SIGTERM before systemd
/// kills what is left.
pub fn systemd_unit(spec: &ServiceSpec, user: bool) -> String {
    let exec: Vec<String> = spec.args().iter().map(|a| systemd_quote(a)).collect();
    let dir = spec.dir.display().to_string();
    // Specifiers are expanded in Description= too.
    let description = dir.replace('%', "%%");
    let target = if user { "default.target" } else { "multi-user.target" };
    let network = if user { "" } else { "After=network-online.target\nWants=network-online.target\n" };
    let run_as = match spec.run_as {
        Some(uid) if !user => format!("User={uid}\n"),
        _ => String::new(),
    };
    format!(
        "# Written by `repy node install --dir {dir}`; `repy node uninstall --dir {dir}` removes it.\n\
[Unit]\nDescription=repy node manager for {description}\n{network}\n\
[Service]\nType=simple\n{run_as}ExecStart={}\nRestart=always\nRestartSec=5\nKillMode=mixed\nTimeoutStopSec=30\n\n\
[Install]\nWantedBy={target}\n",
        exec.join(" ")
    )
}

/// The `ExecStart=` value of a unit text.
pub fn exec_start(unit: &str) -> Option<&str> {
    unit.lines().find_map(|l| l.strip_prefix("ExecStart="))
}

/// `&`, `<`, `>`, `"` and `'` as XML entities.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The launchd label for `dir`.
pub fn launchd_label(dir: &Path) -> String {
    format!("org.repy.{}", service_name(dir))
}

/// The launchd property list: started at load (so at boot or login) and kept alive, at most
/// once every 5 s; its output goes to `DIR/service.log`, as launchd has no journal.
pub fn launchd_plist(spec: &ServiceSpec) -> String {
    let args: String = spec.args().iter().map(|a| format!("        <string>{}</string>\n", xml_escape(a))).collect();
    let log = xml_escape(&spec.dir.join("service.log").display().to_string());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
<plist version=\"1.0\">\n<dict>\n    <key>Label</key>\n    <string>{}</string>\n\
    <key>ProgramArguments</key>\n    <array>\n{args}    </array>\n\
    <key>RunAtLoad</key>\n    <true/>\n    <key>KeepAlive</key>\n    <true/>\n\
    <key>ThrottleInterval</key>\n    <integer>5</integer>\n\
    <key>StandardOutPath</key>\n    <string>{log}</string>\n    <key>StandardErrorPath</key>\n    <string>{log}</string>\n\
</dict>\n</plist>\n",
        xml_escape(&launchd_label(&spec.dir))
    )
}

/// The Task Scheduler name for `dir`, in a folder `repy`.
pub fn task_name(dir: &Path) -> String {
    format!("repy\\{}", service_name(dir))
}

/// One argument on a Windows command line as `CommandLineToArgvW` splits it: quoted when it
/// is empty or holds a space, tab or quote, with the backslashes before a quote doubled.
pub fn windows_quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(2 * backslashes + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(2 * backslashes));
    out.push('"');
    out
}

/// Who a scheduled task runs as: SYSTEM from boot (registered by an administrator), or the
/// registering user from their logon.
pub enum TaskAccount<'a> {
    System,
    User(&'a str),
}

/// The Task Scheduler definition (`schtasks /Create /XML`): a boot or logon trigger, no time
/// limit, not stopped on battery, one instance, restarted every minute (the shortest interval
/// the scheduler allows) up to 999 times when it fails.
pub fn task_xml(spec: &ServiceSpec, account: TaskAccount) -> String {
    let (trigger, principal) = match account {
        TaskAccount::System => (
            "<BootTrigger><Enabled>true</Enabled></BootTrigger>".to_string(),
            "<UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel>".to_string(),
        ),
        TaskAccount::User(user) => {
            let user = xml_escape(user);
            (
                format!("<LogonTrigger><Enabled>true</Enabled><UserId>{user}</UserId></LogonTrigger>"),
                format!("<UserId>{user}</UserId><LogonType>InteractiveToken</LogonType><RunLevel>LeastPrivilege</RunLevel>"),
            )
        }
    };
    let args = spec.args();
    let arguments: Vec<String> = args[1..].iter().map(|a| windows_quote(a)).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n\
<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\n\
  <RegistrationInfo><Description>repy node manager for {dir}</Description></RegistrationInfo>\n\
  <Triggers>{trigger}</Triggers>\n\
  <Principals><Principal id=\"Author\">{principal}</Principal></Principals>\n\
  <Settings>\n\
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n\
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n\
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n\
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>\n\
    <RestartOnFailure><Interval>PT1M</Interval><Count>999</Count></RestartOnFailure>\n\
    <Enabled>true</Enabled>\n\
  </Settings>\n\
  <Actions Context=\"Author\"><Exec><Command>{command}</Command><Arguments>{arguments}</Arguments></Exec></Actions>\n\
</Task>\n",
        dir = xml_escape(&spec.dir.display().to_string()),
        command = xml_escape(&args[0]),
        arguments = xml_escape(&arguments.join(" ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(exe: &str, dir: &str) -> ServiceSpec {
        ServiceSpec { exe: PathBuf::from(exe), dir: PathBuf::from(dir), run_as: None }
    }

    /// The text content of every `<tag>` element of a small XML document, entities decoded,
    /// after checking that every element is closed in order.
    fn elements(xml: &str, tag: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut found = Vec::new();
        let mut rest = xml;
        let mut text_start: Option<usize> = None;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("unclosed '<'") + open;
            let inner = &rest[open + 1..close];
            if inner.starts_with('?') || inner.starts_with('!') {
            } else if let Some(name) = inner.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "</{name}> closes the wrong element in\n{xml}");
                if name == tag {
                    let start = text_start.take().unwrap();
                    let offset = xml.len() - rest.len();
                    let text = &xml[start..offset + open];
                    found.push(
                        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&"),
                    );
                }
            } else if !inner.ends_with('/') {
                let name = inner.split_whitespace().next().unwrap().to_string();
                if name == tag {
                    text_start = Some(xml.len() - rest.len() + close + 1);
                }
                stack.push(name);
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed elements {stack:?}");
        found
    }

    #[test]
    fn names_are_safe_and_differ_by_path() {
        let a = service_name(Path::new("/srv/nodes/state"));
        let b = service_name(Path::new("/home/me/state"));
        assert!(a.starts_with("repy-node-state-") && a.len() == "repy-node-state-".len() + 8, "{a}");
        assert_ne!(a, b);
        assert_eq!(a, service_name(Path::new("/srv/nodes/state")), "stable");
        let odd = service_name(Path::new("/tmp/my node (2)"));
        assert!(odd.starts_with("repy-node-my-node--2--"), "{odd}");
        assert!(service_name(Path::new("/")).starts_with("repy-node-node-"));
        assert_eq!(unit_file_name(Path::new("/srv/nodes/state")), format!("{a}.service"));
    }

    #[test]
    fn the_unit_runs_the_node_and_restarts_it() {
        let unit = systemd_unit(&spec("/usr/local/bin/repy", "/srv/nodes/state"), false);
        assert_eq!(exec_start(&unit), Some("/usr/local/bin/repy node run --dir /srv/nodes/state"));
        for line in ["Restart=always", "RestartSec=5", "WantedBy=multi-user.target", "After=network-online.target", "[Install]"] {
            assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
        }
        assert!(!unit.contains("User="), "{unit}");
        let user = systemd_unit(&spec("/usr/local/bin/repy", "/srv/nodes/state"), true);
        assert!(user.contains("\nWantedBy=default.target\n") && !user.contains("network-online"), "{user}");
        let alice = ServiceSpec { run_as: Some(1000), ..spec("/usr/local/bin/repy", "/home/alice/state") };
        assert!(systemd_unit(&alice, false).contains("\nType=simple\nUser=1000\nExecStart="));
        assert!(!systemd_unit(&alice, true).contains("User="), "a user unit runs as its user");
    }

    #[test]
    fn exec_start_quotes_what_systemd_would_split_or_expand() {
        let odd = spec("/opt/my apps/repy", "/home/a\"b/100% $HOME\\x");
        let unit = systemd_unit(&odd, false);
        let line = exec_start(&unit).unwrap();
        assert_eq!(line, r#""/opt/my apps/repy" node run --dir "/home/a\"b/100%% $$HOME\\x""#);
        assert_eq!(systemd_unquote(line).unwrap(), odd.args());
        assert_eq!(systemd_unquote("a  \"\" b").unwrap(), ["a", "", "b"]);
        assert!(systemd_unquote("\"open").unwrap_err().contains("unterminated"));
        assert_eq!(systemd_quote(""), "\"\"");
    }

    #[test]
    fn the_plist_is_well_formed_and_keeps_the_node_alive() {
        let s = spec("/Applications/repy & co/repy", "/Users/me/<state>");
        let plist = launchd_plist(&s);
        assert_eq!(elements(&plist, "string")[1..6], s.args()[..]);
        assert_eq!(elements(&plist, "string")[0], launchd_label(&s.dir));
        let keys = elements(&plist, "key");
        for key in ["Label", "ProgramArguments", "RunAtLoad", "KeepAlive"] {
            assert!(keys.iter().any(|k| k == key), "{key} missing:\n{plist}");
        }
        // RunAtLoad and KeepAlive are followed by <true/>.
        assert!(plist.contains("<key>RunAtLoad</key>\n    <true/>") && plist.contains("<key>KeepAlive</key>\n    <true/>"), "{plist}");
    }

    #[test]
    fn windows_arguments_survive_command_line_splitting() {
        assert_eq!(windows_quote("plain"), "plain");
        assert_eq!(windows_quote(r"C:\Program Files\repy\"), r#""C:\Program Files\repy\\""#);
        assert_eq!(windows_quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(windows_quote(r#"x\"y z"#), r#""x\\\"y z""#);
        assert_eq!(windows_quote(""), "\"\"");
    }

    #[test]
    fn the_task_starts_at_boot_or_logon_and_restarts() {
        let s = spec(r"C:\repy\repy.exe", r"C:\Node State");
        let system = task_xml(&s, TaskAccount::System);
        assert_eq!(elements(&system, "Command"), [r"C:\repy\repy.exe"]);
        assert_eq!(elements(&system, "Arguments"), [r#"node run --dir "C:\Node State""#]);
        assert_eq!(elements(&system, "UserId"), ["S-1-5-18"]);
        assert_eq!(elements(&system, "BootTrigger").len(), 1);
        assert_eq!(elements(&system, "Count"), ["999"]);
        let user = task_xml(&s, TaskAccount::User("HOST\\me & you"));
        assert_eq!(elements(&user, "UserId"), ["HOST\\me & you", "HOST\\me & you"]);
        assert_eq!(elements(&user, "LogonTrigger").len(), 1);
        assert!(elements(&user, "BootTrigger").is_empty());
        assert_eq!(task_name(&s.dir), format!("repy\\{}", service_name(&s.dir)));
    }
}
