//! The requests of nodemanager.md §4 as types shared by the node manager and its clients
//! (`repy node call`, fleet, bench): one struct per request that both encodes and decodes its
//! JSON arguments (unknown fields refused), the [`Request`] enum with each call's wire name and
//! [`Role`] written once, and the argument checks and limits that belong to the requests.
//!
//! The node decodes with [`Request::parse`]; a client builds a struct and sends it with
//! [`Client::send`](crate::client::Client::send), which encodes it with [`Request::encode`].

use repy_contract::{args, file_name};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    keys::PublicKey,
    request::{err, Code, NmError},
};

/// Who may make a request (§3.3 steps 7–8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Anyone, signed or not.
    Public,
    /// A user or the owner of every vessel the request names.
    User,
    /// The owner of every vessel the request names.
    Owner,
}

/// Declares one argument struct per request and [`Request`] over them, so that a call's name
/// (the struct's name), role and fields are written once for the node and its clients.
macro_rules! requests {
    ($($(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty),* $(,)? } => $role:ident,)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $name {
                $(pub $field: $ty,)*
            }

            impl From<$name> for Request {
                fn from(request: $name) -> Request {
                    Request::$name(request)
                }
            }
        )*

        /// A request with typed arguments; each variant is named as its call on the wire.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Request {
            $($name($name),)*
        }

        impl Request {
            /// Every call's wire name, in the order of §4.
            pub const NAMES: &[&str] = &[$(stringify!($name),)*];

            /// The call's name on the wire.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Request::$name(_) => stringify!($name),)*
                }
            }

            /// Who may make the call named `name` (known before the arguments are parsed: an
            /// unsigned request is refused on its name alone); `UnknownCall` if there is none.
            pub fn role_of(name: &str) -> Result<Role, NmError> {
                match name {
                    $(stringify!($name) => Ok(Role::$role),)*
                    other => Err(unknown_call(other)),
                }
            }

            /// Decodes a call's arguments; an unknown call is `UnknownCall`, arguments that do
            /// not fit (unknown or missing field, wrong type) are `BadArguments` naming the call
            /// and the field.
            pub fn parse(name: &str, args: Map<String, Value>) -> Result<Request, NmError> {
                match name {
                    $(stringify!($name) => {
                        // serde names an unknown or missing field but not one of the wrong type.
                        #[allow(unused_variables)] // by a call without fields
                        let ill_typed = |args: &Map<String, Value>| {
                            let fields: &[(&'static str, bool)] =
                                &[$((stringify!($field), args.get(stringify!($field)).is_some_and(|v| <$ty>::deserialize(v).is_err())),)*];
                            fields.iter().find_map(|&(field, bad)| bad.then_some(field))
                        };
                        typed(name, args, ill_typed).map(Request::$name)
                    })*
                    other => Err(unknown_call(other)),
                }
            }

            /// The call's name and its arguments object, as [`parse`](Self::parse) reads them.
            pub fn encode(&self) -> (&'static str, Value) {
                let args = match self {
                    $(Request::$name(r) => serde_json::to_value(r),)*
                };
                (self.name(), args.expect("request arguments always serialise"))
            }
        }
    };
}

requests! {
    /// The node's name, key and version, and every vessel's record.
    GetVessels {} => Public,
    /// A vessel's restrictions text.
    GetVesselResources { vessel: String } => Public,
    /// The resources a split keeps back, as restrictions text.
    GetOffcutResources {} => Public,
    /// Runs `args[0]` (a file of the vessel) with the rest as its `callargs`; see [`check_start_args`].
    StartVessel { vessel: String, args: Vec<String> } => User,
    /// StartVessel for a named platform (only `repyv1`, in any case).
    StartVesselEx { vessel: String, platform: String, args: Vec<String> } => User,
    StopVessel { vessel: String } => User,
    /// Stores `data` (base64) as `filename`, replacing a file of that name.
    AddFileToVessel { vessel: String, filename: String, data: String } => User,
    ListFilesInVessel { vessel: String } => User,
    RetrieveFileFromVessel { vessel: String, filename: String } => User,
    DeleteFileInVessel { vessel: String, filename: String } => User,
    ReadVesselLog { vessel: String } => User,
    /// Stops the vessel and empties it (but for `private_` files) and its log.
    ResetVessel { vessel: String } => User,
    /// Gives the vessel to `owner_key` (clearing owner information, advertising again).
    ChangeOwner { vessel: String, owner_key: String } => Owner,
    ChangeUsers { vessel: String, user_keys: Vec<String> } => Owner,
    ChangeOwnerInformation { vessel: String, info: String } => Owner,
    ChangeAdvertise { vessel: String, advertise: bool } => Owner,
    /// Splits `resources` (restrictions text) off the vessel into a new one.
    SplitVessel { vessel: String, resources: String } => Owner,
    /// Joins two vessels of the same owner into a new one.
    JoinVessels { vessel: String, vessel2: String } => Owner,
}

fn unknown_call(name: &str) -> NmError {
    NmError::new(Code::UnknownCall, format!("unknown call '{name}'"))
}

/// Decodes the arguments of `call`; `ill_typed` finds the field to name when serde does not.
fn typed<T: DeserializeOwned>(
    call: &str,
    args: Map<String, Value>,
    ill_typed: impl Fn(&Map<String, Value>) -> Option<&'static str>,
) -> Result<T, NmError> {
    let args = Value::Object(args);
    T::deserialize(&args).map_err(|e| {
        let field = args.as_object().and_then(ill_typed).map(|f| format!("field '{f}': ")).unwrap_or_default();
        NmError::new(Code::BadArguments, format!("arguments of {call}: {field}{e}"))
    })
}

impl Request {
    /// The vessels the request names, each of which must exist and be open to the caller's role.
    pub fn vessels(&self) -> Vec<&str> {
        use Request as R;
        match self {
            R::GetVessels(_) | R::GetOffcutResources(_) => vec![],
            R::JoinVessels(JoinVessels { vessel, vessel2 }) => vec![vessel, vessel2],
            R::GetVesselResources(GetVesselResources { vessel })
            | R::StartVessel(StartVessel { vessel, .. })
            | R::StartVesselEx(StartVesselEx { vessel, .. })
            | R::StopVessel(StopVessel { vessel })
            | R::AddFileToVessel(AddFileToVessel { vessel, .. })
            | R::ListFilesInVessel(ListFilesInVessel { vessel })
            | R::RetrieveFileFromVessel(RetrieveFileFromVessel { vessel, .. })
            | R::DeleteFileInVessel(DeleteFileInVessel { vessel, .. })
            | R::ReadVesselLog(ReadVesselLog { vessel })
            | R::ResetVessel(ResetVessel { vessel })
            | R::ChangeOwner(ChangeOwner { vessel, .. })
            | R::ChangeUsers(ChangeUsers { vessel, .. })
            | R::ChangeOwnerInformation(ChangeOwnerInformation { vessel, .. })
            | R::ChangeAdvertise(ChangeAdvertise { vessel, .. })
            | R::SplitVessel(SplitVessel { vessel, .. }) => vec![vessel],
        }
    }

    /// Who may make the request.
    pub fn role(&self) -> Role {
        Request::role_of(self.name()).expect("every request's name is a call")
    }
}

/// The most StartVessel arguments, the program included.
pub const MAX_START_ARGS: usize = args::MAX_ARGS;

/// A file name a user may give (AddFileToVessel, RetrieveFileFromVessel, DeleteFileInVessel,
/// the program of StartVessel): a valid Repy file name, not one of the operator's `private_` ones.
pub fn check_filename(name: &str) -> Result<(), NmError> {
    file_name::user_problem(name).map_or(Ok(()), |problem| err(Code::BadFilename, problem))
}

/// What is wrong with `name` as a vessel name (`v` and a decimal number without leading zero,
/// as the node manager names its vessels), for clients that must not trust a node's names
/// (they become paths on the client's machine); `None` if it is one.
pub fn vessel_name_problem(name: &str) -> Option<String> {
    // Escaped: the name may hold control characters meant for the user's terminal.
    let shown: String = name.chars().take(64).collect::<String>().escape_debug().collect();
    let more = if name.chars().count() > 64 { "..." } else { "" };
    let number = name.strip_prefix('v').unwrap_or("");
    let well_formed = !number.is_empty()
        && number.len() <= 20
        && number.bytes().all(|b| b.is_ascii_digit())
        && !number.starts_with('0')
        && number.parse::<u64>().is_ok();
    (!well_formed).then(|| format!("'{shown}{more}' is not a vessel name (v followed by a number, as v1)"))
}

/// StartVessel's `args` within the limits of [`repy_contract::args`].
pub fn check_start_args(args: &[String]) -> Result<(), NmError> {
    args::problem(args).map_or(Ok(()), |problem| err(Code::BadArguments, problem))
}

/// A key given in ChangeOwner or ChangeUsers as the argument `field` (named in the error): a
/// valid public key that is not of small order.
pub fn parse_key(field: &str, text: &str) -> Result<PublicKey, NmError> {
    PublicKey::parse(text).map_err(|e| NmError::new(Code::BadKey, format!("field '{field}': {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// One request of every kind.
    fn samples() -> Vec<Request> {
        let v = || "v1".to_string();
        vec![
            GetVessels {}.into(),
            GetVesselResources { vessel: v() }.into(),
            GetOffcutResources {}.into(),
            StartVessel { vessel: v(), args: vec!["p.py".into(), "a".into()] }.into(),
            StartVesselEx { vessel: v(), platform: "repyv1".into(), args: vec!["p.py".into()] }.into(),
            StopVessel { vessel: v() }.into(),
            AddFileToVessel { vessel: v(), filename: "p.py".into(), data: "cGFzcwo=".into() }.into(),
            ListFilesInVessel { vessel: v() }.into(),
            RetrieveFileFromVessel { vessel: v(), filename: "p.py".into() }.into(),
            DeleteFileInVessel { vessel: v(), filename: "p.py".into() }.into(),
            ReadVesselLog { vessel: v() }.into(),
            ResetVessel { vessel: v() }.into(),
            ChangeOwner { vessel: v(), owner_key: "key".into() }.into(),
            ChangeUsers { vessel: v(), user_keys: vec!["a".into(), "b".into()] }.into(),
            ChangeOwnerInformation { vessel: v(), info: "lab 3".into() }.into(),
            ChangeAdvertise { vessel: v(), advertise: false }.into(),
            SplitVessel { vessel: v(), resources: "resource cpu 0.1\n".into() }.into(),
            JoinVessels { vessel: v(), vessel2: "v2".into() }.into(),
        ]
    }

    #[test]
    fn every_request_round_trips() {
        let samples = samples();
        let names: Vec<&str> = samples.iter().map(Request::name).collect();
        assert_eq!(names, Request::NAMES, "one sample per request, in order");
        for request in samples {
            let (name, args) = request.encode();
            let Value::Object(args) = args else { panic!("{name}: arguments are not an object") };
            assert_eq!(Request::parse(name, args).unwrap(), request);
        }
    }

    #[test]
    fn wire_form_is_the_documented_one() {
        let (name, args) = Request::from(StartVessel { vessel: "v2".into(), args: vec!["p.py".into()] }).encode();
        assert_eq!((name, args), ("StartVessel", json!({"vessel": "v2", "args": ["p.py"]})));
        assert_eq!(Request::from(GetVessels {}).encode(), ("GetVessels", json!({})));
    }

    fn parse(name: &str, args: Value) -> Result<Request, NmError> {
        Request::parse(name, args.as_object().unwrap().clone())
    }

    #[test]
    fn bad_arguments_name_the_call_and_field() {
        let e = parse("StopVessel", json!({"vessel": "v1", "force": true})).unwrap_err();
        assert_eq!(e.code, Code::BadArguments);
        assert!(e.message.contains("StopVessel") && e.message.contains("force"), "{e}");
        let e = parse("GetVessels", json!({"verbose": 1})).unwrap_err();
        assert!(e.code == Code::BadArguments && e.message.contains("GetVessels") && e.message.contains("verbose"), "{e}");
        let e = parse("AddFileToVessel", json!({"vessel": "v1", "data": ""})).unwrap_err();
        assert!(e.code == Code::BadArguments && e.message.contains("AddFileToVessel") && e.message.contains("filename"), "{e}");
        let e = parse("ChangeAdvertise", json!({"vessel": "v1", "advertise": "no"})).unwrap_err();
        assert_eq!(e.code, Code::BadArguments);
        assert!(e.message.starts_with("arguments of ChangeAdvertise: field 'advertise': invalid type"), "{e}");
        let e = parse("StartVessel", json!({"vessel": "v1", "args": ["p.py", 3]})).unwrap_err();
        assert!(e.message.starts_with("arguments of StartVessel: field 'args': invalid type"), "{e}");
    }

    #[test]
    fn unknown_calls_are_named() {
        let e = parse("FormatDisk", json!({})).unwrap_err();
        assert_eq!(e.code, Code::UnknownCall);
        assert!(e.message.contains("'FormatDisk'"), "{e}");
        assert_eq!(Request::role_of("FormatDisk").unwrap_err(), e);
        assert_eq!(parse("getvessels", json!({})).unwrap_err().code, Code::UnknownCall);
    }

    #[test]
    fn roles_and_vessels() {
        let roles: Vec<Role> = samples().iter().map(Request::role).collect();
        assert_eq!(roles.iter().filter(|r| **r == Role::Public).count(), 3);
        assert_eq!(Request::role_of("GetVesselResources"), Ok(Role::Public));
        assert_eq!(Request::role_of("ResetVessel"), Ok(Role::User));
        assert_eq!(Request::role_of("JoinVessels"), Ok(Role::Owner));
        let join = Request::from(JoinVessels { vessel: "v1".into(), vessel2: "v2".into() });
        assert_eq!(join.vessels(), ["v1", "v2"]);
        assert!(Request::from(GetOffcutResources {}).vessels().is_empty());
        assert_eq!(Request::from(ReadVesselLog { vessel: "v4".into() }).vessels(), ["v4"]);
    }

    #[test]
    fn argument_checks_name_the_culprit() {
        assert_eq!(check_filename("Hello.py").unwrap_err().code, Code::BadFilename);
        assert!(check_filename("private_x").unwrap_err().message.contains("private_"));
        assert!(check_filename("hello.py").is_ok());
        let e = check_start_args(&["a b".into()]).unwrap_err();
        assert!(e.code == Code::BadArguments && e.message.contains("'a b'"), "{e}");
        assert_eq!(check_start_args(&vec!["a".to_string(); MAX_START_ARGS + 1]).unwrap_err().code, Code::BadArguments);
        assert_eq!(parse_key("owner_key", "not-a-key").unwrap_err().code, Code::BadKey);
        for good in ["v1", "v42", "v18446744073709551615"] {
            assert_eq!(vessel_name_problem(good), None, "{good}");
        }
        for bad in ["", "v", "v0", "v01", "V1", "1", "v+1", "v-1", "v1 ", "v1/../../x", "v1\0", "..", "v18446744073709551616", "v１"] {
            let problem = vessel_name_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(problem.contains("is not a vessel name"), "{problem}");
        }
        // The all-zero key (order 4) and the identity point (order 1): anyone could sign as them.
        for weak in ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="] {
            let e = parse_key("user_keys[0]", weak).unwrap_err();
            assert!(e.code == Code::BadKey && e.message.contains("'user_keys[0]'") && e.message.contains("weak"), "{e}");
        }
    }
}
