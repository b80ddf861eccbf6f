//! A local testbed for end-to-end tests: `repy testbed up` in a temporary directory, the
//! fleet client against it, and a Drop guard that stops it even when an assertion fails.

use std::{path::Path, process::Output};

use serde_json::Value;

use super::repy;

pub fn run(args: &[&str]) -> Output {
    repy().args(args).output().expect("repy runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Processes whose command line mentions `dir` (node managers and vessels of a testbed).
pub fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let line = text(&bytes).replace('\0', " ");
        if line.contains(&needle) {
            found.push((pid, line));
        }
    }
    found
}

/// A testbed in a temporary directory; dropping it runs `repy testbed down` and kills anything left.
pub struct Testbed {
    dir: tempfile::TempDir,
    pub nodes: Vec<String>,
}

impl Testbed {
    pub fn up(nodes: usize, vessels: usize, ports: &str) -> Testbed {
        Testbed::up_with(nodes, vessels, ports, &[])
    }

    /// `up` with more options of `repy testbed up` (such as `--advertise-ttl S`).
    pub fn up_with(nodes: usize, vessels: usize, ports: &str, more: &[&str]) -> Testbed {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display().to_string();
        let mut bed = Testbed { dir, nodes: Vec::new() };
        let (nodes_text, vessels_text) = (nodes.to_string(), vessels.to_string());
        let mut args = vec!["testbed", "up", "--nodes", &nodes_text, "--dir", &path, "--vessels", &vessels_text, "--ports", ports];
        args.extend_from_slice(more);
        let out = run(&args);
        assert!(out.status.success(), "testbed up failed: {}{}", text(&out.stdout), text(&out.stderr));
        let list = std::fs::read_to_string(bed.dir.path().join("nodes.txt")).unwrap();
        bed.nodes = list.lines().map(str::to_string).collect();
        assert_eq!(bed.nodes.len(), nodes, "{list}");
        bed
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn key(&self) -> String {
        self.path().join("testbed").display().to_string()
    }

    pub fn nodes_file(&self) -> String {
        self.path().join("nodes.txt").display().to_string()
    }

    /// `@DIR/bootstrap.txt`, the testbed's DHT peers as `--bootstrap` takes them.
    pub fn bootstrap(&self) -> String {
        format!("@{}", self.path().join("bootstrap.txt").display())
    }

    /// `repy fleet --key DIR/testbed --bootstrap @DIR/bootstrap.txt ARGS`: the nodes found on the DHT.
    pub fn fleet_dht(&self, args: &[&str]) -> Output {
        let (key, bootstrap) = (self.key(), self.bootstrap());
        let mut all = vec!["fleet", "--key", &key, "--bootstrap", &bootstrap];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `repy fleet --key DIR/testbed --nodes DIR/nodes.txt ARGS`.
    pub fn fleet(&self, args: &[&str]) -> Output {
        let (key, nodes) = (self.key(), self.nodes_file());
        let mut all = vec!["fleet", "--key", &key, "--nodes", &nodes];
        all.extend_from_slice(args);
        run(&all)
    }

    pub fn fleet_json(&self, args: &[&str]) -> (Output, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.fleet(&all);
        let doc: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)));
        (out, doc)
    }

    pub fn pid(&self, node: usize) -> u32 {
        std::fs::read_to_string(self.path().join(format!("node{node}.pid"))).unwrap().trim().parse().unwrap()
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = run(&["testbed", "down", "--dir", &self.path().display().to_string()]);
        for (pid, _) in processes_under(self.path()) {
            let _ = repy_portability::child::signal_process(pid, repy_portability::child::Signal::Kill);
        }
    }
}
