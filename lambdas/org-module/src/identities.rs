//! identities-management: user provisioning in Okta and on the platform (platform admins), and reading an identity
//! (yourself, or anyone for admins).
//!
//! Nothing is left half-done. Every refusal the database can foresee is checked before Okta is touched; Okta goes
//! first, the database second; and each database step is idempotent, so when it fails after Okta succeeded, the
//! same request again completes it (provisioning finds the Okta user by login and links it; deactivating finds it
//! already deprovisioned). The subject recorded for a user is their Okta login, which is what Okta puts in their
//! access tokens' `sub` (`module_runtime::okta::subject_of`).

use module_runtime::okta::{self, CreateError};
use module_runtime::{ApiError, Call, Http, Registration, Reply, Session};
use route_registry::modules::org;
use route_registry::modules::org::types::{Identity, LinkIdentity, Message, ProvisionIdentity};
use route_registry::modules::org::{
    CREATE_IDENTITY, DELETE_IDENTITY, GET_IDENTITY, LINK_IDENTITY, REACTIVATE_IDENTITY,
};
use route_registry::Route;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{data, one};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Provision,
    Link,
    Get,
    Deactivate,
    Reactivate,
}

/// The routes this function serves, from the catalog.
pub const ROUTES: &[(Route, Op)] = &[
    (CREATE_IDENTITY, Op::Provision),
    (LINK_IDENTITY, Op::Link),
    (GET_IDENTITY, Op::Get),
    (DELETE_IDENTITY, Op::Deactivate),
    (REACTIVATE_IDENTITY, Op::Reactivate),
];

/// The function, registered once: the catalog entry and its dispatch table.
pub const FUNCTION: Registration =
    Registration::http(org::IDENTITIES_MANAGEMENT, &Http { routes: ROUTES, run: |op, call| Box::pin(run(op, call)) });

/// An identity with what the lifecycle checks found (`identity_for_lifecycle`).
#[derive(Debug, Deserialize)]
struct Lifecycle {
    #[serde(flatten)]
    identity: Identity,
    deactivation_blocker: Option<String>,
    reactivation_conflict: Option<String>,
}

/// One operation of this function.
pub async fn run(op: Op, call: Call) -> Result<Reply, ApiError> {
    match op {
        Op::Provision => {
            let body: ProvisionIdentity = call.body()?;
            let login = body.login.as_ref().map_or(body.email.as_str(), |l| l.as_str()).to_owned();
            let db = call.db()?;
            let args = [("p_idp_subject", login.clone()), ("p_email", body.email.as_str().to_owned())];
            let conflict = db.call_read("provision_conflict", &args).await?;
            if let Some(reason) = conflict.as_str() {
                return Err(ApiError::Conflict(reason.to_owned()));
            }
            let profile = okta::Profile {
                login: login.clone(),
                email: body.email.as_str().to_owned(),
                first_name: Some(body.first_name.as_str().to_owned()),
                last_name: Some(body.last_name.as_str().to_owned()),
            };
            let okta = call.okta()?;
            let user = match okta.create_user(&profile, body.activate.unwrap_or(true)).await {
                Ok(user) => user,
                // An Okta user with this login exists (a retry of this request, or someone made it in Okta):
                // link it instead of making a second one, and bring it back if it was deactivated.
                Err(CreateError::LoginTaken) => {
                    let user = okta
                        .get_user(&login)
                        .await?
                        .ok_or_else(|| ApiError::internal("Okta said the login exists, then found no user with it"))?;
                    // A deactivated identity comes back only with its own Okta user: check before reactivating it.
                    let args = [args[0].clone(), args[1].clone(), ("p_okta_id", user.id.clone())];
                    if let Some(reason) = db.call_read("provision_conflict", &args).await?.as_str() {
                        return Err(ApiError::Conflict(reason.to_owned()));
                    }
                    okta.restore(&user).await?;
                    user
                }
                Err(CreateError::Other(e)) => return Err(e),
            };
            let identity = record(&db, &user, &profile).await?;
            Ok(Reply::created(data(&identity)?))
        }
        Op::Link => {
            let body: LinkIdentity = call.body()?;
            // The caller is an active platform admin before Okta is asked anything.
            let db = call.db()?;
            db.call_read("require_platform_admin", &[]).await?;
            let user = call
                .okta()?
                .get_user(body.login.as_str())
                .await?
                .ok_or_else(|| ApiError::NotFound("Okta has no user with this login".into()))?;
            if user.status == "DEPROVISIONED" {
                return Err(ApiError::Conflict(
                    "the Okta user is deactivated; provision them (POST /identities) to bring them back".into(),
                ));
            }
            let identity = record(&db, &user, &user.profile).await?;
            Ok(Reply::created(data(&identity)?))
        }
        Op::Get => {
            let id = call.uuid("id")?;
            let row = call.db()?.call_read("get_identity", &[("p_id", id.to_string())]).await?;
            let identity: Identity = one(row, "get_identity")?;
            Ok(Reply::ok(data(&identity)?))
        }
        Op::Deactivate => {
            let id = call.uuid("id")?;
            let db = call.db()?;
            let state = lifecycle(&db, id).await?;
            if let Some(org) = state.deactivation_blocker {
                return Err(ApiError::Conflict(format!(
                    "cannot deactivate the last active owner of {org}; make another member owner first"
                )));
            }
            if let Some(okta_id) = &state.identity.okta_id {
                call.okta()?.deactivate(okta_id).await?;
            }
            db.call("deactivate_identity", &json!({ "p_id": id })).await?;
            Ok(Reply::ok(data(&Message { message: "Identity deactivated".into() })?))
        }
        Op::Reactivate => {
            let id = call.uuid("id")?;
            let db = call.db()?;
            let state = lifecycle(&db, id).await?;
            if let Some(conflict) = state.reactivation_conflict {
                return Err(ApiError::Conflict(format!("cannot reactivate: {conflict}")));
            }
            if let Some(okta_id) = &state.identity.okta_id {
                let okta = call.okta()?;
                let user = okta.get_user(okta_id).await?.ok_or_else(|| {
                    ApiError::Conflict(format!("the identity's Okta user {okta_id} no longer exists in Okta"))
                })?;
                okta.restore(&user).await?;
            }
            let row = db.call("reactivate_identity", &json!({ "p_id": id })).await?;
            let identity: Identity = one(row, "reactivate_identity")?;
            Ok(Reply::ok(data(&identity)?))
        }
    }
}

async fn lifecycle(db: &Session<'_>, id: Uuid) -> Result<Lifecycle, ApiError> {
    let row = db.call_read("identity_for_lifecycle", &[("p_id", id.to_string())]).await?;
    one(row, "identity_for_lifecycle")
}

/// Records (or finds, or brings back) the platform identity of an Okta user. Idempotent.
async fn record(db: &Session<'_>, user: &okta::User, profile: &okta::Profile) -> Result<Identity, ApiError> {
    let row = db
        .call(
            "provision_identity",
            &json!({
                "p_idp_subject": okta::subject_of(user),
                "p_email": profile.email,
                "p_first_name": profile.first_name,
                "p_last_name": profile.last_name,
                "p_okta_id": user.id,
            }),
        )
        .await?;
    one(row, "provision_identity")
}
