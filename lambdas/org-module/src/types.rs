//! org-module's request and response bodies. Requests validate themselves while deserializing (see
//! `org_common::validate`); all of them describe themselves to schemars for the OpenAPI document.
//!
//! Timestamps are set by the database and only ever returned, never accepted.

use org_common::validate::{Description, Email, Name, OrgName, Phone, Subject};
use org_common::ApiError;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `POST /identities`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionIdentity {
    /// The identity provider's subject (Okta's `sub`).
    pub idp_subject: Subject,
    pub email: Email,
    #[serde(default)]
    pub first_name: Option<Name>,
    #[serde(default)]
    pub last_name: Option<Name>,
}

/// `PUT /profiles/me`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    pub first_name: Name,
    pub last_name: Name,
    #[serde(default)]
    pub phone: Option<Phone>,
}

/// `POST /organizations`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    pub name: OrgName,
    #[serde(default)]
    pub description: Option<Description>,
}

/// `PUT /organizations/{id}`: at least one field.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    #[serde(default)]
    pub name: Option<OrgName>,
    #[serde(default)]
    pub description: Option<Description>,
}

/// A role inside an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Owner,
    Admin,
    #[default]
    Member,
}

/// `POST /organizations/{id}/members`: exactly one of `user_id` and `email`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub role: MemberRole,
}

/// A provisioned user.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Identity {
    pub id: Uuid,
    pub idp_subject: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A user's profile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Profile {
    pub id: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An organization.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: Uuid,
    pub created_at: String,
    pub updated_at: String,
}

/// A membership of a user in an organization.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Membership {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub role: MemberRole,
    pub created_at: String,
}

/// A confirmation without a resource.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    pub message: String,
}

/// The first row of a PostgREST answer (an array or a single object), typed; `None` when there is none.
pub fn first<T: DeserializeOwned>(value: Value) -> Result<Option<T>, ApiError> {
    let row = match value {
        Value::Array(mut rows) if !rows.is_empty() => rows.swap_remove(0),
        Value::Array(_) | Value::Null => return Ok(None),
        other => other,
    };
    serde_json::from_value(row).map(Some).map_err(|e| ApiError::internal(format!("unexpected row shape: {e}")))
}

/// All rows of a PostgREST answer, typed.
pub fn rows<T: DeserializeOwned>(value: Value) -> Result<Vec<T>, ApiError> {
    match value {
        Value::Null => Ok(Vec::new()),
        v => serde_json::from_value(v).map_err(|e| ApiError::internal(format!("unexpected rows shape: {e}"))),
    }
}

/// Serializes a response payload.
pub fn data<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}
