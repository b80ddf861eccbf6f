//! Deploying Repy programs (cli.md "Using donated machines"): `repy fleet` acts on every vessel a
//! key may use on a list of node managers, all nodes in parallel; `repy testbed` starts local
//! node managers so that deployment can be rehearsed on one machine.
//!
//! [`nodes`] reads the node list, [`discovered`] finds it on the DHT instead (defaults from
//! [`config`], the client's settings file), [`identity`] the key files, [`exec`] runs per-node work in
//! parallel with a bound and a progress bar, [`fleet`] implements the commands over the node
//! manager's own signing client (`repy_nodemanager::client`), [`args`] expands per-vessel
//! argument placeholders, [`testbed`] starts and stops local node managers, [`testbed_net`] their network
//! namespaces.

pub mod args;
pub mod config;
pub mod discovered;
pub mod exec;
pub mod fleet;
pub mod identity;
pub mod nodes;
pub mod testbed;
pub mod testbed_net;
