//! org-module, the reference module: identities (Okta provisioning), profiles, organizations and members with
//! invitations. The seed's 4 functions behind the API, with its 12 routes plus the ones invitations, ownership,
//! the identity lifecycle and tasks need; and two functions without a caller: the worker of invitation imports
//! (a queue) and the reconciliation with Okta (a schedule).
//!
//! Auth here is the coarse requirement dispatch enforces; the finer rules (owner or org admin, yourself) are the
//! database's, so they hold for any client.

pub mod types;

use self::types::{
    ChangeRole, CreateOrganization, Identity, ImportInvitations, Invitation, InviteMember, LinkIdentity, Member,
    Membership, Message, Organization, Profile, ProvisionIdentity, Task, TransferOwnership, UpdateOrganization,
    UpdateProfile,
};
use crate::{Auth, Body, Doc, Function, Method, Module, QueueTrigger, Route, ScheduleTrigger, Trigger, Upload, Use};

pub const MODULE_NAME: &str = "org-module";

/// Memory, from the cold-start benchmark (`cargo xtask bench cold-start`, 2026-11-30, re-checked 2026-12-03;
/// BENCHMARKS.md, "Memory size"): a cold start needs 3.7–4.9 ms of CPU (its TLS handshake included) and a warm
/// request well under 1 ms,
/// and Lambda gives CPU in proportion to memory (one vCPU at 1,769 MB). Predicted, per function:
///
/// | MB  | cold start | $ per 1M cold | warm request | $ per 1M warm |
/// |-----|------------|---------------|--------------|---------------|
/// | 128 | 64–70 ms   | 0.31–0.32     | 8.7–9.6 ms   | 0.22          |
/// | 256 | 35–39 ms   | 0.32–0.33     | 5.1–5.7 ms   | 0.22          |
/// | 512 | 21–23 ms   | 0.34–0.35     | 3.3–3.7 ms   | 0.23          |
///
/// 256 MB halves the CPU-bound part of every cold start and request against 128 MB for about a cent per million
/// invocations (the request charge, $0.20 per million, dominates the bill at these durations); 512 MB saves another
/// 14 ms of cold start for twice the GB-seconds of every database wait, which a realistic in-region round trip
/// (5–20 ms) makes the larger part. Revisit when the benchmark's CPU figure moves (on 2026-12-03 the table it
/// printed kept profiles, orgs and members within these ranges to 3 ms and a cent; identities-management, which
/// reads the Okta token at start, 108 / 59 / 34 ms for $0.38 / 0.40 / 0.43: the same choice).
///
/// Timeout: every outbound call is bounded (module-runtime's `timeouts`), so a request's worst case is well under
/// 10 s; 15 s leaves room and stays clear of API Gateway's 30 s integration limit.
const MEMORY_MB: u32 = 256;
const TIMEOUT_S: u32 = 15;

const DB: &[Use] = &[Use::Database];

pub const IDENTITIES_MANAGEMENT: Function = Function {
    module: MODULE_NAME,
    name: "identities-management",
    binary: "org-identities-management",
    memory_mb: MEMORY_MB,
    timeout_s: TIMEOUT_S,
    // Only this function and the reconciliation talk to Okta's Users API, so only they read the Okta API token.
    uses: &[Use::Database, Use::Okta],
    trigger: Trigger::Http,
};
pub const PROFILES: Function = Function {
    module: MODULE_NAME,
    name: "profiles",
    binary: "org-profiles",
    memory_mb: MEMORY_MB,
    timeout_s: TIMEOUT_S,
    uses: DB,
    trigger: Trigger::Http,
};
pub const ORGS: Function = Function {
    module: MODULE_NAME,
    name: "orgs",
    binary: "org-orgs",
    memory_mb: MEMORY_MB,
    timeout_s: TIMEOUT_S,
    uses: DB,
    trigger: Trigger::Http,
};
pub const MEMBERS: Function = Function {
    module: MODULE_NAME,
    name: "members",
    binary: "org-members",
    memory_mb: MEMORY_MB,
    timeout_s: TIMEOUT_S,
    // Invitation imports are queued for their worker.
    uses: &[Use::Database, Use::Queue(&INVITATION_IMPORT)],
    trigger: Trigger::Http,
};

/// Lines of an import per queue message: a message is one call of the database function that handles them (34 ms
/// for 200 lines through the local worker and PostgREST, BENCHMARKS.md, "Queues"), far inside [`WORKER_TIMEOUT_S`],
/// and a 10,000-address import is 50 messages.
pub const IMPORT_LINES_PER_MESSAGE: usize = 200;

/// The workers' timeout: a message's work takes well under a second, and what is left covers a database that is
/// slow to answer (every call is bounded, module-runtime's `timeouts`) and the service token at a cold start.
pub const WORKER_TIMEOUT_S: u32 = 60;

/// Creates the invitations of an import, a message (a range of its lines) at a time. Each line is handled once
/// however often its message is delivered: its outcome is recorded with it, in the same transaction.
pub const INVITATION_IMPORT: Function = Function {
    module: MODULE_NAME,
    name: "invitation-import",
    binary: "org-invitation-import",
    memory_mb: MEMORY_MB,
    timeout_s: WORKER_TIMEOUT_S,
    uses: DB,
    trigger: Trigger::Queue(QueueTrigger {
        batch_size: 5,
        batching_window_s: 0,
        // A message failing five times is not a passing fault: it waits in the dead-letter queue (and alarms).
        max_receives: 5,
        visibility_timeout_s: 6 * WORKER_TIMEOUT_S,
        // Imports are rare: two workers at a time keep one import from holding the database.
        max_concurrency: 2,
    }),
};

/// Deactivates on the platform the users deactivated or suspended in Okta since its last run (Okta's Users API
/// search, at most [`RECONCILE_MAX_USERS`] a run, resuming from where it stopped).
pub const OKTA_RECONCILE: Function = Function {
    module: MODULE_NAME,
    name: "okta-reconcile",
    binary: "org-okta-reconcile",
    memory_mb: MEMORY_MB,
    timeout_s: WORKER_TIMEOUT_S,
    uses: &[Use::Database, Use::Okta],
    trigger: Trigger::Schedule(ScheduleTrigger {
        // A user deactivated in Okta cannot sign in at once; tokens already issued live up to an hour. Every
        // 15 minutes takes the platform's own access (and their open invitations) away well within that.
        expression: "rate(15 minutes)",
        time_zone: "UTC",
        flexible_window_min: 0,
        retries: 2,
        max_event_age_s: 900,
    }),
};

/// The most users one reconciliation run handles (Okta pages of 200): the rest wait for the next run.
pub const RECONCILE_MAX_USERS: usize = 1_000;

/// Users per page of the reconciliation's search (Okta's maximum for a search).
pub const RECONCILE_PAGE: usize = 200;

/// The most pages one reconciliation run reads: twice what its users fill. Pages that keep linking to more, or hold
/// fewer users than asked for, end the run here (an anomaly of its event line), never at the run's deadline.
pub const RECONCILE_MAX_PAGES: usize = 2 * RECONCILE_MAX_USERS / RECONCILE_PAGE;

#[allow(clippy::too_many_arguments, reason = "one argument per catalog field, named at every call by position")]
const fn route(
    method: Method,
    path: &'static str,
    function: Function,
    auth: Auth,
    summary: &'static str,
    success: u16,
    errors: &'static [u16],
    request: Option<Doc>,
    response: Body,
) -> Route {
    Route { method, path, function, auth, summary, success, errors, request, response, upload: None }
}

const fn one<T: schemars::JsonSchema>() -> Body {
    Body::One(Doc::of::<T>())
}

const fn list<T: schemars::JsonSchema>() -> Body {
    Body::List(Doc::of::<T>())
}

const fn req<T: schemars::JsonSchema>() -> Option<Doc> {
    Some(Doc::of::<T>())
}

use Auth::{Admin, User};
use Method::{Delete, Get, Post, Put};

pub const CREATE_IDENTITY: Route = route(
    Post,
    "/identities",
    IDENTITIES_MANAGEMENT,
    Admin,
    "Provision a user: create them in Okta (an existing Okta user with that login is linked) and record the identity",
    201,
    &[400, 409],
    req::<ProvisionIdentity>(),
    one::<Identity>(),
);
pub const LINK_IDENTITY: Route = route(
    Post,
    "/identities/link",
    IDENTITIES_MANAGEMENT,
    Admin,
    "Record the identity of a user who already exists in Okta, by login, without creating one",
    201,
    &[400, 404, 409],
    req::<LinkIdentity>(),
    one::<Identity>(),
);
pub const GET_IDENTITY: Route = route(
    Get,
    "/identities/{id}",
    IDENTITIES_MANAGEMENT,
    User,
    "Get a user identity: your own, or anyone's for platform admins",
    200,
    &[400, 404],
    None,
    one::<Identity>(),
);
pub const DELETE_IDENTITY: Route = route(
    Delete,
    "/identities/{id}",
    IDENTITIES_MANAGEMENT,
    Admin,
    "Deactivate a user in Okta and on the platform (reversible); refused for the last active owner of an organization",
    200,
    &[400, 404, 409],
    None,
    one::<Message>(),
);
pub const REACTIVATE_IDENTITY: Route = route(
    Post,
    "/identities/{id}/reactivate",
    IDENTITIES_MANAGEMENT,
    Admin,
    "Reactivate a deactivated user in Okta and on the platform",
    200,
    &[400, 404, 409],
    None,
    one::<Identity>(),
);

pub const GET_PROFILE: Route =
    route(Get, "/profiles/me", PROFILES, User, "Get the caller's profile", 200, &[404], None, one::<Profile>());
pub const UPDATE_PROFILE: Route = route(
    Put,
    "/profiles/me",
    PROFILES,
    User,
    "Update the caller's profile",
    200,
    &[400, 404],
    req::<UpdateProfile>(),
    one::<Profile>(),
);
pub const DELETE_PROFILE: Route = route(
    Delete,
    "/profiles/me",
    PROFILES,
    User,
    "Delete the caller's profile (soft delete)",
    200,
    &[404],
    None,
    one::<Message>(),
);

pub const LIST_ORGS: Route = route(
    Get,
    "/organizations",
    ORGS,
    User,
    "List the organizations the caller belongs to",
    200,
    &[],
    None,
    list::<Organization>(),
);
pub const CREATE_ORG: Route = route(
    Post,
    "/organizations",
    ORGS,
    User,
    "Create an organization with the caller as its owner (up to the environment's per-user limit)",
    201,
    &[400, 409],
    req::<CreateOrganization>(),
    one::<Organization>(),
);
pub const UPDATE_ORG: Route = route(
    Put,
    "/organizations/{id}",
    ORGS,
    User,
    "Update an organization (owner or org admin)",
    200,
    &[400, 404],
    req::<UpdateOrganization>(),
    one::<Organization>(),
);
pub const TRANSFER_ORG: Route = route(
    Put,
    "/organizations/{id}/owner",
    ORGS,
    Admin,
    "Make an active user owner of an organization whose owners are all inactive (platform admins)",
    200,
    &[400, 404, 409],
    req::<TransferOwnership>(),
    one::<Membership>(),
);

pub const LIST_MEMBERS: Route = route(
    Get,
    "/organizations/{id}/members",
    MEMBERS,
    User,
    "List an organization's members with their names and e-mail (members only)",
    200,
    &[400, 404],
    None,
    list::<Member>(),
);
pub const ADD_MEMBER: Route = route(
    Post,
    "/organizations/{id}/members",
    MEMBERS,
    User,
        "Invite a member by e-mail (owner or org admin); they join when they accept. Inviting an address again renews its invitation; an organization holds a limited number of open invitations (409) and a person sends a limited number an hour (429)",
    201,
    &[400, 404, 409, 429],
    req::<InviteMember>(),
    one::<Invitation>(),
);
pub const CHANGE_ROLE: Route = route(
    Put,
    "/organizations/{id}/members/{userId}",
    MEMBERS,
    User,
    "Change a member's role (owners only); the last active owner cannot step down",
    200,
    &[400, 404, 409],
    req::<ChangeRole>(),
    one::<Membership>(),
);
pub const DELETE_MEMBER: Route = route(
    Delete,
    "/organizations/{id}/members/{userId}",
    MEMBERS,
    User,
    "Remove a member (owner or org admin, or the member themself); never the last active owner",
    200,
    &[400, 404, 409],
    None,
    one::<Message>(),
);
pub const LIST_ORG_INVITATIONS: Route = route(
    Get,
    "/organizations/{id}/invitations",
    MEMBERS,
    User,
    "List an organization's open invitations with who sent each, when and until when (owner or org admin)",
    200,
    &[400, 404],
    None,
    list::<Invitation>(),
);
pub const REVOKE_INVITATION: Route = route(
    Delete,
    "/organizations/{id}/invitations/{invitationId}",
    MEMBERS,
    User,
    "Withdraw an open invitation of an organization (owner or org admin)",
    200,
    &[400, 404],
    None,
    one::<Invitation>(),
);
pub const IMPORT_INVITATIONS: Route = Route {
    upload: Some(Upload { max_bytes: 1024 * 1024, media_types: &["application/json", "text/csv"] }),
    ..route(
        Post,
        "/organizations/{id}/invitations/import",
        MEMBERS,
        User,
        "Invite up to 10,000 addresses at once (owners; JSON or CSV): 202 with the task that creates the invitations, which reports each line's outcome. Addresses with an open invitation are left as they are, so importing again creates nothing new",
        202,
        &[400, 404, 409, 429],
        req::<ImportInvitations>(),
        one::<Task>(),
    )
};
pub const GET_TASK: Route = route(
    Get,
    "/tasks/{id}",
    MEMBERS,
    User,
    "Get a task you started: its state, progress, and outcome or error",
    200,
    &[400, 404],
    None,
    one::<Task>(),
);
pub const CANCEL_TASK: Route = route(
    Post,
    "/tasks/{id}/cancel",
    MEMBERS,
    User,
    "Cancel a task that has not finished (whoever started it, or an owner of its organization): lines not yet handled stay unhandled",
    200,
    &[400, 404, 409],
    None,
    one::<Task>(),
);
pub const LIST_INVITATIONS: Route = route(
    Get,
    "/invitations",
    MEMBERS,
    User,
    "List the caller's pending invitations, with who sent each",
    200,
    &[],
    None,
    list::<Invitation>(),
);
pub const ACCEPT_INVITATION: Route = route(
    Post,
    "/invitations/{id}/accept",
    MEMBERS,
    User,
    "Accept an invitation addressed to the caller's e-mail: join the organization with its role",
    200,
    &[400, 404, 409],
    None,
    one::<Membership>(),
);
pub const DECLINE_INVITATION: Route = route(
    Post,
    "/invitations/{id}/decline",
    MEMBERS,
    User,
    "Decline an invitation addressed to the caller's e-mail",
    200,
    &[400, 404, 409],
    None,
    one::<Message>(),
);

pub const FUNCTIONS: &[Function] = &[IDENTITIES_MANAGEMENT, PROFILES, ORGS, MEMBERS, INVITATION_IMPORT, OKTA_RECONCILE];

pub const ROUTES: &[Route] = &[
    CREATE_IDENTITY,
    LINK_IDENTITY,
    GET_IDENTITY,
    DELETE_IDENTITY,
    REACTIVATE_IDENTITY,
    GET_PROFILE,
    UPDATE_PROFILE,
    DELETE_PROFILE,
    LIST_ORGS,
    CREATE_ORG,
    UPDATE_ORG,
    TRANSFER_ORG,
    LIST_MEMBERS,
    ADD_MEMBER,
    CHANGE_ROLE,
    DELETE_MEMBER,
    LIST_ORG_INVITATIONS,
    REVOKE_INVITATION,
    IMPORT_INVITATIONS,
    GET_TASK,
    CANCEL_TASK,
    LIST_INVITATIONS,
    ACCEPT_INVITATION,
    DECLINE_INVITATION,
];

pub const MODULE: Module = Module {
    name: MODULE_NAME,
    summary: "identities, profiles, organizations and members",
    functions: FUNCTIONS,
    routes: ROUTES,
    service_functions: &["import_invitation_lines", "okta_sync_state", "deactivate_from_idp", "end_stalled_tasks"],
    renamed: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's 12 routes are all here, with the seed's methods and paths.
    #[test]
    fn the_seed_routes_are_kept() {
        let seed = [
            "POST /identities",
            "GET /identities/{id}",
            "DELETE /identities/{id}",
            "GET /profiles/me",
            "PUT /profiles/me",
            "DELETE /profiles/me",
            "GET /organizations",
            "POST /organizations",
            "PUT /organizations/{id}",
            "GET /organizations/{id}/members",
            "POST /organizations/{id}/members",
            "DELETE /organizations/{id}/members/{userId}",
        ];
        let keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        for key in seed {
            assert!(keys.contains(&key.to_owned()), "{key} is missing");
        }
        let http = FUNCTIONS.iter().filter(|f| f.trigger == Trigger::Http).count();
        assert_eq!(http, 4, "the seed's four functions behind the API");
    }
}
