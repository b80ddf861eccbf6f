//! Restrictions files and resource accounting for Repy (restrictions.md).
//!
//! [`parse`] turns a restrictions file into [`Restrictions`] (reporting every error with its
//! line), [`Restrictions::decide`] applies call rules to an API call, and a [`Nanny`] shared
//! by a vessel's threads meters renewable and fungible resources and checks ports. The CPU,
//! memory and disk limits are enforced by the supervisor and worker, which only read their
//! values from [`Restrictions`].

pub mod calls;
pub mod fungible;
pub mod fuzzing;
pub mod nanny;
pub mod ports;
pub mod profile;
pub mod renewable;
pub mod resource;
pub mod restrictions;
pub mod value;

pub use calls::{Action, CallDecision, CallRule, Condition, CALL_NAMES};
pub use fungible::{Exhausted, Fungibles};
pub use nanny::Nanny;
pub use ports::{PortError, PortSet};
pub use profile::{builtin_profile, builtin_profile_names, DEFAULT_PROFILE};
pub use renewable::{Bucket, Clock, Forbidden, SystemClock};
pub use resource::{Resource, ResourceClass};
pub use restrictions::{parse, Restrictions, RestrictionsError};
pub use value::{Micro, ValueError};
