//! Deploying Repy programs (cli.md "Using donated machines"): `repy fleet` acts on every vessel a
//! key may use on a list of node managers, all nodes in parallel; `repy testbed` starts local
//! node managers so that deployment can be rehearsed on one machine.
//!
//! [`nodes`] reads the node list, [`identity`] the key files, [`exec`] runs per-node work in
//! parallel with a bound and a progress bar, [`fleet`] implements the commands over the node
//! manager's own signing client (`repy_nodemanager::client`), [`args`] expands per-vessel
//! argument placeholders, [`testbed`] starts and stops local node managers.

pub mod args;
pub mod exec;
pub mod fleet;
pub mod identity;
pub mod nodes;
pub mod testbed;
