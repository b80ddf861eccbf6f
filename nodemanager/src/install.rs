//! `repy node install` and `repy node uninstall`: register a node's `repy node run --dir DIR`
//! with the system's service manager (systemd, launchd or the Task Scheduler) so that the
//! donated machine runs it from boot and restarts it when it fails.

use std::{
    fs,
    path::{Path, PathBuf},
};

use repy_portability::service as os;

use crate::{
    service::{self, ServiceSpec, TaskAccount},
    state::{self, Layout},
};

/// For the whole machine, or for the user who installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    System,
    User,
}

pub struct InstallOptions {
    pub dir: PathBuf,
    /// None: the whole machine when privileged (root, an elevated administrator), else the user.
    pub scope: Option<Scope>,
    /// Write the definition into this directory and register nothing (packaging, tests).
    pub unit_dir: Option<PathBuf>,
}

/// The service manager of this system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Manager {
    Systemd,
    Launchd,
    TaskScheduler,
}

fn manager() -> Manager {
    if cfg!(target_os = "macos") {
        Manager::Launchd
    } else if cfg!(windows) {
        Manager::TaskScheduler
    } else {
        Manager::Systemd
    }
}

fn scope(opts: &InstallOptions) -> Scope {
    opts.scope.unwrap_or(if os::is_privileged() { Scope::System } else { Scope::User })
}

/// `dir` made absolute (through symbolic links when it exists, so that the name derived from
/// it is the same however the directory is reached).
fn absolute(dir: &Path) -> Result<PathBuf, String> {
    fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .map_err(|e| format!("cannot make '{}' an absolute path: {e}", dir.display()))
}

/// The directory the definition goes in, and its file name.
fn location(manager: Manager, scope: Scope, dir: &Path, unit_dir: Option<&Path>) -> Result<(PathBuf, String), String> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| "HOME is not set: cannot find the user's service directory (give --system or --unit-dir)".to_string())
    };
    let name = match manager {
        Manager::Systemd => service::unit_file_name(dir),
        Manager::Launchd => format!("{}.plist", service::launchd_label(dir)),
        Manager::TaskScheduler => format!("{}.xml", service::service_name(dir)),
    };
    let folder = match (unit_dir, manager, scope) {
        (Some(d), _, _) => d.to_path_buf(),
        (None, Manager::Systemd, Scope::System) => PathBuf::from("/etc/systemd/system"),
        (None, Manager::Systemd, Scope::User) => match std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
            Some(config) => PathBuf::from(config).join("systemd/user"),
            None => home()?.join(".config/systemd/user"),
        },
        (None, Manager::Launchd, Scope::System) => PathBuf::from("/Library/LaunchDaemons"),
        (None, Manager::Launchd, Scope::User) => home()?.join("Library/LaunchAgents"),
        // Registered from a file in the node's tmp/, which is removed afterwards.
        (None, Manager::TaskScheduler, _) => Layout::new(dir).tmp(),
    };
    Ok((folder, name))
}

fn definition(manager: Manager, scope: Scope, spec: &ServiceSpec) -> String {
    match manager {
        Manager::Systemd => service::systemd_unit(spec, scope == Scope::User),
        Manager::Launchd => service::launchd_plist(spec),
        Manager::TaskScheduler => {
            let user = match (std::env::var("USERDOMAIN"), std::env::var("USERNAME")) {
                (Ok(domain), Ok(name)) => format!("{domain}\\{name}"),
                (_, Ok(name)) => name,
                _ => String::new(),
            };
            let account = if scope == Scope::System || user.is_empty() { TaskAccount::System } else { TaskAccount::User(&user) };
            service::task_xml(spec, account)
        }
    }
}

/// Writes the service definition for the node in `opts.dir` and, unless `unit_dir` is given,
/// registers and starts it. Returns what was done, for the user.
pub fn install(opts: &InstallOptions) -> Result<String, String> {
    let layout = Layout::new(&opts.dir);
    if !layout.config().is_file() {
        return Err(format!(
            "'{}' is not a node state directory (it has no node.toml): make one with `repy node init --dir {} --owner KEY.publickey` first",
            opts.dir.display(),
            opts.dir.display()
        ));
    }
    state::load_config(&layout)?;
    let dir = absolute(&opts.dir)?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the running repy executable: {e}"))?;
    let exe = fs::canonicalize(&exe).unwrap_or(exe);
    for path in [&exe, &dir] {
        if path.to_string_lossy().contains(['\n', '\r']) {
            return Err(format!("'{}' contains a line break, which a service definition cannot hold", path.display()));
        }
    }
    let run_as = os::owner_uid(&dir).filter(|&uid| uid != 0);
    let spec = ServiceSpec { exe, dir: dir.clone(), run_as };
    let (manager, scope) = (manager(), scope(opts));
    let (folder, file) = location(manager, scope, &dir, opts.unit_dir.as_deref())?;
    fs::create_dir_all(&folder).map_err(|e| format!("cannot create '{}': {e}", folder.display()))?;
    let path = folder.join(&file);
    let text = definition(manager, scope, &spec);
    let written = if manager == Manager::TaskScheduler { os::write_utf16(&path, &text) } else { fs::write(&path, &text) };
    written.map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
    let command = spec.args().join(" ");
    let mut out = String::new();
    let user = if scope == Scope::User { " --user" } else { "" };
    match manager {
        Manager::Systemd => {
            let unit = file.as_str();
            out.push_str(&format!(
                "wrote systemd unit '{}' (unit {unit}): runs `{command}` at boot and restarts it 5 s after it exits\n",
                path.display()
            ));
            if opts.unit_dir.is_some() {
                out.push_str("--unit-dir given: nothing was registered with systemd\n");
            } else if !os::systemd_running() {
                out.push_str(&format!(
                    "systemd is not running on this machine (no /run/systemd/system): the unit was written but NOT started; \
where systemd runs, start it with: systemctl{user} daemon-reload && systemctl{user} enable --now {unit}\n"
                ));
            } else {
                os::systemctl(scope == Scope::User, &["daemon-reload"])?;
                os::systemctl(scope == Scope::User, &["enable", "--now", unit])?;
                out.push_str(&format!("enabled and started {unit}: see `systemctl{user} status {unit}`\n"));
            }
            if scope == Scope::User && opts.unit_dir.is_none() {
                out.push_str("a user unit starts at boot only when the user lingers: loginctl enable-linger $USER\n");
            }
        }
        Manager::Launchd => {
            out.push_str(&format!("wrote launchd property list '{}': runs `{command}` at load and keeps it alive\n", path.display()));
            if opts.unit_dir.is_some() {
                out.push_str("--unit-dir given: nothing was loaded into launchd\n");
            } else {
                os::launchctl(&["load", "-w", &path.to_string_lossy()])?;
                out.push_str(&format!("loaded {}\n", service::launchd_label(&dir)));
            }
        }
        Manager::TaskScheduler => {
            let task = service::task_name(&dir);
            if opts.unit_dir.is_some() {
                out.push_str(&format!(
                    "wrote the task definition '{}' (task {task}); --unit-dir given: nothing was registered, \
register it with: schtasks /Create /TN {task} /XML {}\n",
                    path.display(),
                    path.display()
                ));
            } else {
                let registered = os::schtasks(&["/Create", "/TN", &task, "/XML", &path.to_string_lossy(), "/F"]);
                let _ = fs::remove_file(&path);
                registered?;
                os::schtasks(&["/Run", "/TN", &task])?;
                let when = if scope == Scope::System { "boot" } else { "logon" };
                out.push_str(&format!(
                    "registered and started scheduled task {task}: runs `{command}` at {when}, restarted when it fails\n"
                ));
            }
        }
    }
    Ok(out)
}

/// Stops and removes what [`install`] registered for `opts.dir`.
pub fn uninstall(opts: &InstallOptions) -> Result<String, String> {
    let dir = absolute(&opts.dir)?;
    let (manager, scope) = (manager(), scope(opts));
    let (folder, file) = location(manager, scope, &dir, opts.unit_dir.as_deref())?;
    let path = folder.join(&file);
    let missing = || {
        let scope = if scope == Scope::User { "user" } else { "system" };
        format!(
            "no service is installed for node directory '{}' (no {} in '{}', the {scope} services; \
--user, --system or --unit-dir look elsewhere)",
            opts.dir.display(),
            file,
            folder.display()
        )
    };
    let user = scope == Scope::User;
    let mut out = String::new();
    match manager {
        Manager::TaskScheduler if opts.unit_dir.is_none() => {
            let task = service::task_name(&dir);
            os::schtasks(&["/Query", "/TN", &task]).map_err(|_| missing())?;
            let _ = os::schtasks(&["/End", "/TN", &task]);
            os::schtasks(&["/Delete", "/TN", &task, "/F"])?;
            out.push_str(&format!("stopped and deleted scheduled task {task}\n"));
            return Ok(out);
        }
        _ if !path.is_file() => return Err(missing()),
        Manager::Systemd if opts.unit_dir.is_none() && os::systemd_running() => {
            os::systemctl(user, &["disable", "--now", &file])?;
            out.push_str(&format!("stopped and disabled {file}\n"));
        }
        Manager::Launchd if opts.unit_dir.is_none() => {
            os::launchctl(&["unload", "-w", &path.to_string_lossy()])?;
            out.push_str(&format!("unloaded {}\n", service::launchd_label(&dir)));
        }
        _ => {}
    }
    fs::remove_file(&path).map_err(|e| format!("cannot remove '{}': {e}", path.display()))?;
    out.push_str(&format!("removed '{}'\n", path.display()));
    if manager == Manager::Systemd && opts.unit_dir.is_none() && os::systemd_running() {
        os::systemctl(user, &["daemon-reload"])?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_go_where_the_manager_looks() {
        let dir = Path::new("/srv/state");
        let (folder, file) = location(Manager::Systemd, Scope::System, dir, None).unwrap();
        assert_eq!(folder, Path::new("/etc/systemd/system"));
        assert_eq!(file, service::unit_file_name(dir));
        let (folder, file) = location(Manager::Launchd, Scope::System, dir, None).unwrap();
        assert_eq!(folder, Path::new("/Library/LaunchDaemons"));
        assert!(file.starts_with("org.repy.repy-node-state-") && file.ends_with(".plist"), "{file}");
        let (folder, _) = location(Manager::Systemd, Scope::User, dir, Some(Path::new("/x"))).unwrap();
        assert_eq!(folder, Path::new("/x"));
        let (folder, file) = location(Manager::TaskScheduler, Scope::System, dir, None).unwrap();
        assert_eq!(folder, Path::new("/srv/state/tmp"));
        assert!(file.ends_with(".xml"));
    }

    #[test]
    fn a_directory_without_node_toml_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let opts = InstallOptions { dir: dir.path().join("empty"), scope: Some(Scope::User), unit_dir: Some(dir.path().into()) };
        let e = install(&opts).unwrap_err();
        assert!(e.contains("empty' is not a node state directory") && e.contains("node.toml"), "{e}");
        let e = uninstall(&opts).unwrap_err();
        assert!(e.contains("no service is installed for node directory") && e.contains("empty'"), "{e}");
    }
}
