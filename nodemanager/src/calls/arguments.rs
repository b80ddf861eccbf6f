//! Each request's arguments as a typed value: parsed from the request's JSON object with
//! unknown fields refused, and the checks of arguments shared by several calls.

use repy_contract::{args, file_name};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{Map, Value};

use crate::{
    keys::PublicKey,
    request::{err, Code, NmError},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VesselArg {
    pub(super) vessel: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StartArgs {
    pub(super) vessel: String,
    pub(super) args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StartExArgs {
    pub(super) vessel: String,
    pub(super) platform: String,
    pub(super) args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddFileArgs {
    pub(super) vessel: String,
    pub(super) filename: String,
    pub(super) data: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileArgs {
    pub(super) vessel: String,
    pub(super) filename: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OwnerArgs {
    pub(super) vessel: String,
    pub(super) owner_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UsersArgs {
    pub(super) vessel: String,
    pub(super) user_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InfoArgs {
    pub(super) vessel: String,
    pub(super) info: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdvertiseArgs {
    pub(super) vessel: String,
    pub(super) advertise: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SplitArgs {
    pub(super) vessel: String,
    pub(super) resources: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JoinArgs {
    pub(super) vessel: String,
    pub(super) vessel2: String,
}

/// A request with typed arguments.
pub(super) enum Call {
    GetVessels,
    GetVesselResources(VesselArg),
    GetOffcutResources,
    StartVessel(StartArgs),
    StartVesselEx(StartExArgs),
    StopVessel(VesselArg),
    AddFile(AddFileArgs),
    ListFiles(VesselArg),
    RetrieveFile(FileArgs),
    DeleteFile(FileArgs),
    ReadLog(VesselArg),
    Reset(VesselArg),
    ChangeOwner(OwnerArgs),
    ChangeUsers(UsersArgs),
    ChangeOwnerInformation(InfoArgs),
    ChangeAdvertise(AdvertiseArgs),
    Split(SplitArgs),
    Join(JoinArgs),
}

fn typed<T: DeserializeOwned>(call: &str, args: Map<String, Value>) -> Result<T, NmError> {
    serde_json::from_value(Value::Object(args)).map_err(|e| NmError::new(Code::BadArguments, format!("arguments of {call}: {e}")))
}

pub(super) fn parse_call(call: &str, args: Map<String, Value>) -> Result<Call, NmError> {
    Ok(match call {
        "GetVessels" => typed::<NoArgs>(call, args).map(|_| Call::GetVessels)?,
        "GetVesselResources" => Call::GetVesselResources(typed(call, args)?),
        "GetOffcutResources" => typed::<NoArgs>(call, args).map(|_| Call::GetOffcutResources)?,
        "StartVessel" => Call::StartVessel(typed(call, args)?),
        "StartVesselEx" => Call::StartVesselEx(typed(call, args)?),
        "StopVessel" => Call::StopVessel(typed(call, args)?),
        "AddFileToVessel" => Call::AddFile(typed(call, args)?),
        "ListFilesInVessel" => Call::ListFiles(typed(call, args)?),
        "RetrieveFileFromVessel" => Call::RetrieveFile(typed(call, args)?),
        "DeleteFileInVessel" => Call::DeleteFile(typed(call, args)?),
        "ReadVesselLog" => Call::ReadLog(typed(call, args)?),
        "ResetVessel" => Call::Reset(typed(call, args)?),
        "ChangeOwner" => Call::ChangeOwner(typed(call, args)?),
        "ChangeUsers" => Call::ChangeUsers(typed(call, args)?),
        "ChangeOwnerInformation" => Call::ChangeOwnerInformation(typed(call, args)?),
        "ChangeAdvertise" => Call::ChangeAdvertise(typed(call, args)?),
        "SplitVessel" => Call::Split(typed(call, args)?),
        "JoinVessels" => Call::Join(typed(call, args)?),
        other => return err(Code::UnknownCall, format!("unknown call '{other}'")),
    })
}

impl Call {
    /// The vessels named by the request (checked in step 8).
    pub(super) fn vessels(&self) -> Vec<&str> {
        match self {
            Call::GetVessels | Call::GetOffcutResources => vec![],
            Call::GetVesselResources(a) | Call::StopVessel(a) | Call::ListFiles(a) | Call::ReadLog(a) | Call::Reset(a) => {
                vec![&a.vessel]
            }
            Call::StartVessel(a) => vec![&a.vessel],
            Call::StartVesselEx(a) => vec![&a.vessel],
            Call::AddFile(a) => vec![&a.vessel],
            Call::RetrieveFile(a) | Call::DeleteFile(a) => vec![&a.vessel],
            Call::ChangeOwner(a) => vec![&a.vessel],
            Call::ChangeUsers(a) => vec![&a.vessel],
            Call::ChangeOwnerInformation(a) => vec![&a.vessel],
            Call::ChangeAdvertise(a) => vec![&a.vessel],
            Call::Split(a) => vec![&a.vessel],
            Call::Join(a) => vec![&a.vessel, &a.vessel2],
        }
    }
}

pub(super) fn check_filename(name: &str) -> Result<(), NmError> {
    file_name::user_problem(name).map_or(Ok(()), |problem| err(Code::BadFilename, problem))
}

pub(super) fn check_start_args(args: &[String]) -> Result<(), NmError> {
    args::problem(args).map_or(Ok(()), |problem| err(Code::BadArguments, problem))
}

pub(super) fn parse_key(text: &str) -> Result<PublicKey, NmError> {
    PublicKey::parse(text).map_err(|e| NmError::new(Code::BadKey, e))
}
