//! org-module's handlers: identities-management, profiles, orgs and members, each a dispatch table over the
//! catalog's routes plus its operations, and the workers without a caller (invitation imports, reconciliation
//! with Okta), registered once in [`FUNCTIONS`]. The binaries in `src/bin/` are generated
//! from the catalog (one per function, each serving its own registration); the local API serves them all through
//! the generated `all-modules`.
//!
//! Handlers do no authorization of their own: dispatch enforces each route's auth requirement, and Row-Level
//! Security and the database functions decide what a caller can see and change. The wire types live in the
//! catalog (`route_registry::modules::org::types`).

pub mod identities;
pub mod members;
pub mod orgs;
pub mod profiles;
pub mod workers;

use module_runtime::{ApiError, Registration};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Every function of org-module, once.
pub const FUNCTIONS: &[Registration] = &[
    identities::FUNCTION,
    profiles::FUNCTION,
    orgs::FUNCTION,
    members::FUNCTION,
    workers::INVITATION_IMPORT,
    workers::OKTA_RECONCILE,
];

/// The first row of a PostgREST answer (an array or a single object), typed; `None` when there is none.
pub(crate) fn first<T: DeserializeOwned>(value: Value) -> Result<Option<T>, ApiError> {
    let row = match value {
        Value::Array(mut rows) if !rows.is_empty() => rows.swap_remove(0),
        Value::Array(_) | Value::Null => return Ok(None),
        other => other,
    };
    serde_json::from_value(row).map(Some).map_err(|e| ApiError::internal(format!("unexpected row shape: {e}")))
}

/// All rows of a PostgREST answer, typed.
pub(crate) fn rows<T: DeserializeOwned>(value: Value) -> Result<Vec<T>, ApiError> {
    match value {
        Value::Null => Ok(Vec::new()),
        v => serde_json::from_value(v).map_err(|e| ApiError::internal(format!("unexpected rows shape: {e}"))),
    }
}

/// One typed value from a database function's JSON answer.
pub(crate) fn one<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ApiError> {
    first(value)?.ok_or_else(|| ApiError::internal(format!("{what} returned nothing")))
}

/// Serializes a response payload.
pub(crate) fn data<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}
