//! org-module's request and response bodies. Requests validate themselves while deserializing (see
//! [`crate::validate`]); all of them describe themselves to schemars for the OpenAPI document.
//!
//! Timestamps are set by the database and only ever returned, never accepted. These are wire types only: the
//! handlers that read and write them live in the `org-module` crate.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::{Description, Email, Name, OktaEmail, OktaLogin, OktaName, OrgName, Phone, Subject};

/// `POST /identities`: create the user in Okta (login = the e-mail unless given) and record the identity. The
/// fields follow Okta's profile limits, which are narrower than the platform's own.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionIdentity {
    pub email: OktaEmail,
    pub first_name: OktaName,
    pub last_name: OktaName,
    /// The Okta login, which is also the `sub` of the user's access tokens; defaults to the e-mail.
    #[serde(default)]
    pub login: Option<OktaLogin>,
    /// Activate the Okta user now (Okta sends the activation e-mail); default true.
    #[serde(default)]
    pub activate: Option<bool>,
}

/// `POST /identities/link`: record an identity for a user that already exists in Okta, without creating one.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkIdentity {
    /// The Okta login (the `sub` of the user's access tokens).
    pub login: Subject,
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
#[schemars(extend("minProperties" = 1))]
pub struct UpdateOrganization {
    /// Not nullable in the document: a field is either given or left out, and at least one is given.
    #[serde(default)]
    #[schemars(with = "OrgName")]
    pub name: Option<OrgName>,
    #[serde(default)]
    #[schemars(with = "Description")]
    pub description: Option<Description>,
}

/// A role inside an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Owner,
    Admin,
    Member,
}

/// The role an invitation grants: never owner (ownership only by promoting an existing member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum InviteRole {
    Admin,
    #[default]
    Member,
}

/// `POST /organizations/{id}/members`: invite by e-mail. The answer is the same whether or not anyone has that
/// e-mail; nobody becomes a member until they accept.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    pub email: Email,
    #[serde(default)]
    pub role: InviteRole,
}

/// `PUT /organizations/{id}/members/{userId}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: MemberRole,
}

/// `PUT /organizations/{id}/owner`: the active identity that becomes owner.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferOwnership {
    pub user_id: Uuid,
}

/// A provisioned user.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Identity {
    pub id: Uuid,
    /// The identity provider's subject: the Okta login.
    pub idp_subject: String,
    /// The Okta user id (`00u…`), when the identity was provisioned or linked through Okta.
    pub okta_id: Option<String>,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When the identity was deactivated; `null` while active.
    pub deactivated_at: Option<String>,
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

/// A member as fellow members see them: who, with which role.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Member {
    pub user_id: Uuid,
    pub role: MemberRole,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub joined_at: String,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    /// Withdrawn by an owner or admin, or because its sender may no longer invite.
    Revoked,
    Expired,
}

/// An invitation to join an organization.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The organization's name, so the invitee knows what they are invited to.
    pub org_name: String,
    pub email: String,
    pub role: InviteRole,
    pub status: InvitationStatus,
    /// Who sent it (or sent it last: inviting the same address again renews it), so the invitee knows who asks.
    pub invited_by: Person,
    /// When it was sent, or last renewed.
    pub sent_at: String,
    pub expires_at: String,
    pub created_at: String,
}

/// A person as an invitation names them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A confirmation without a resource.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    pub message: String,
}

/// The most addresses one import takes.
pub const MAX_IMPORT_ADDRESSES: usize = 10_000;

/// `POST /organizations/{id}/invitations/import` as JSON (owners): up to [`MAX_IMPORT_ADDRESSES`] addresses,
/// invited with one role. As `text/csv` the body is one address per line, optionally with a header line `email` and
/// a second column `role`. Each address is checked on its own: a bad line fails alone and is reported, with its
/// reason, in the task's result.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportInvitations {
    #[schemars(with = "Vec<ImportLine>", length(min = 1, max = 10000))]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub role: InviteRole,
}

/// One address of an import as the document describes it: text under the shared `Text` rule (no control,
/// bidirectional-control or zero-width characters; such a line refuses the whole import, 400 naming the line).
/// Whether it is an e-mail address is checked per line by the task, which reports a line that is not.
#[derive(Debug)]
pub struct ImportLine;

impl JsonSchema for ImportLine {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ImportLine".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": crate::validate::Shape::Text.pattern(),
            "description": "An address to invite; checked on its own by the task, which reports it if it is not one",
        })
    }
}

/// Where a task (a job longer than a request) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Accepted, waiting for a worker.
    Queued,
    /// A worker has started; `done` of `total` items are through.
    Running,
    /// Finished; `result` says what happened to each item.
    Succeeded,
    /// Stopped; `error` says why (a failed import resumes when its messages are moved back from the dead-letter
    /// queue).
    Failed,
    /// Cancelled by whoever started it or by an owner of its organization; `error` says which.
    Cancelled,
}

/// A job the API accepted with 202, run by a worker: its state, progress and outcome. Visible to whoever started
/// it (404 for anyone else).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    pub id: Uuid,
    /// What it does (`invitation-import`).
    pub kind: String,
    pub state: TaskState,
    /// Items through so far.
    pub done: u32,
    /// Items in all.
    pub total: u32,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The outcome once succeeded (for an invitation import: an [`ImportResult`]).
    pub result: Option<serde_json::Value>,
    /// Why it failed, once failed.
    pub error: Option<String>,
}

/// What an invitation import did: counts by outcome, and each line that failed with its reason (the first 1,000;
/// `failed` counts them all). The outcome of an address never says whether it belongs to anyone.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ImportResult {
    /// Invitations created.
    pub created: u32,
    /// Addresses that already had an open invitation to the organization (left as they were).
    pub already_invited: u32,
    /// Addresses of current members.
    pub already_members: u32,
    /// Lines that failed.
    pub failed: u32,
    pub failures: Vec<ImportFailure>,
}

/// One line of an import that failed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ImportFailure {
    /// The line's number, from 1 (the header line of a CSV body is not counted).
    pub line: u32,
    pub address: String,
    pub reason: String,
}
