//! The Repy node manager (nodemanager.md): hosts vessels on one machine, answers signed
//! requests over TCP, supervises `repy run` processes and keeps its state crash-safe.
//!
//! One job per module: [`keys`] (Ed25519 keys and key files), [`frame`] (length-prefixed
//! strict JSON), [`request`] (envelopes, signatures, responses, error codes), [`protocol`]
//! (the calls as types shared with the clients: names, roles, arguments, their checks),
//! [`replay`] (sequence numbers), [`state`] (state directory, configuration, atomic writes),
//! [`resources`] (split/join arithmetic), [`vessel`] (child processes), [`node`] (start-up,
//! shutdown, commits), [`calls`] (authorising and executing the calls), [`server`] (TCP,
//! limits), [`client`] (signing client), [`bench`] (`repy node bench`), [`init`]
//! (`repy node init` / `status`), [`share`] (how much of the machine init donates),
//! [`service`] (the systemd unit, launchd plist and scheduled task that run a node from
//! boot) and [`install`] (`repy node install` / `uninstall`, which register them).
//!
//! [`connections`] decides who holds the server's connection slots when they are all taken.

pub mod bench;
pub mod calls;
pub mod client;
pub mod connections;
pub mod frame;
pub mod fuzzing;
pub mod init;
pub mod install;
pub mod keys;
pub mod node;
pub mod protocol;
pub mod replay;
pub mod request;
pub mod resources;
pub mod server;
pub mod service;
pub mod share;
pub mod state;
pub mod vessel;
