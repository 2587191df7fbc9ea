//! orgs: list the caller's organizations, create one (with the caller as owner, atomically, within the per-user
//! limit), update one (owner or org admin), and, for platform admins, give an ownerless organization an owner.
//! Row-Level Security decides visibility: an organization the caller is not in does not exist for them.

use module_runtime::{ApiError, Call, Http, Registration, Reply};
use route_registry::modules::org;
use route_registry::modules::org::types::{
    CreateOrganization, Membership, Organization, TransferOwnership, UpdateOrganization,
};
use route_registry::modules::org::{CREATE_ORG, LIST_ORGS, TRANSFER_ORG, UPDATE_ORG};
use route_registry::Route;
use serde_json::{json, Map, Value};

use crate::{data, first, one, rows};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Create,
    Update,
    Transfer,
}

pub const ROUTES: &[(Route, Op)] =
    &[(LIST_ORGS, Op::List), (CREATE_ORG, Op::Create), (UPDATE_ORG, Op::Update), (TRANSFER_ORG, Op::Transfer)];

/// The columns of an `Organization`.
const COLUMNS: &str = "id,name,description,created_at,updated_at";

/// The function, registered once: the catalog entry and its dispatch table.
pub const FUNCTION: Registration =
    Registration::http(org::ORGS, &Http { routes: ROUTES, run: |op, call| Box::pin(run(op, call)) });

/// One operation of this function.
pub async fn run(op: Op, call: Call) -> Result<Reply, ApiError> {
    match op {
        Op::List => {
            let db = call.db()?;
            let found = db.run(db.from("org").select(COLUMNS).order("created_at.asc,id.asc")).await?;
            Ok(Reply::ok(data(&rows::<Organization>(found)?)?))
        }
        Op::Create => {
            let body: CreateOrganization = call.body()?;
            let row = call
                .db()?
                .call(
                    "create_org_with_member",
                    &json!({
                        "p_name": body.name.as_str(),
                        "p_description": body.description.as_ref().map(|d| d.as_str()),
                    }),
                )
                .await?;
            let org: Organization = one(row, "create_org_with_member")?;
            Ok(Reply::created(data(&org)?))
        }
        Op::Update => {
            let id = call.uuid("id")?.to_string();
            let body: UpdateOrganization = call.body()?;
            let mut changes = Map::new();
            if let Some(name) = &body.name {
                changes.insert("name".into(), Value::from(name.as_str()));
            }
            if let Some(description) = &body.description {
                changes.insert("description".into(), Value::from(description.as_str()));
            }
            if changes.is_empty() {
                return Err(ApiError::BadRequest("Give at least one of name, description".into()));
            }
            let db = call.db()?;
            // Visible at all? If not, it does not exist for this caller.
            let visible = db.run(db.from("org").select("id").eq("id", &id)).await?;
            if first::<Value>(visible)?.is_none() {
                return Err(ApiError::NotFound("Organization not found".into()));
            }
            let updated =
                db.run(db.from("org").eq("id", &id).select(COLUMNS).update(Value::Object(changes).to_string())).await?;
            match first::<Organization>(updated)? {
                Some(org) => Ok(Reply::ok(data(&org)?)),
                // Visible but not updatable: a plain member.
                None => Err(ApiError::Forbidden("Only owners and admins can update the organization".into())),
            }
        }
        Op::Transfer => {
            let id = call.uuid("id")?;
            let body: TransferOwnership = call.body()?;
            let row =
                call.db()?.call("transfer_ownership", &json!({"p_org_id": id, "p_user_id": body.user_id})).await?;
            let membership: Membership = one(row, "transfer_ownership")?;
            Ok(Reply::ok(data(&membership)?))
        }
    }
}
