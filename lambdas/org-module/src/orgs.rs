//! orgs: list the caller's organizations, create one (with the caller as owner, atomically), update one (owner or
//! org admin). Row-Level Security decides visibility: an organization the caller is not in does not exist for them.

use lambda_http::{Body, Request, Response};
use org_common::{dispatch, ApiError, Call, Db, Reply};
use route_registry::{org, Route};
use serde_json::{json, Map, Value};

use crate::types::{data, first, rows, CreateOrganization, Organization, UpdateOrganization};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Create,
    Update,
}

pub const ROUTES: &[(Route, Op)] =
    &[(org::LIST_ORGS, Op::List), (org::CREATE_ORG, Op::Create), (org::UPDATE_ORG, Op::Update)];

pub async fn handle(db: &Db, req: Request) -> Response<Body> {
    dispatch(ROUTES, req, |op, call| run(db, op, call)).await
}

async fn run(db: &Db, op: Op, call: Call) -> Result<Reply, ApiError> {
    match op {
        Op::List => {
            let session = db.session(&call.caller)?;
            let found = session.run(session.from("org").select("*").order("created_at.asc,id.asc")).await?;
            Ok(Reply::ok(data(&rows::<Organization>(found)?)?))
        }
        Op::Create => {
            let body: CreateOrganization = call.body()?;
            let row = db
                .session(&call.caller)?
                .rpc(
                    "create_org_with_member",
                    &json!({
                        "p_name": body.name.as_str(),
                        "p_description": body.description.as_ref().map(|d| d.as_str()),
                    }),
                )
                .await?;
            let org: Organization =
                first(row)?.ok_or_else(|| ApiError::internal("create_org_with_member returned nothing"))?;
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
            let session = db.session(&call.caller)?;
            // Visible at all? If not, it does not exist for this caller.
            let visible = session.run(session.from("org").select("id").eq("id", &id)).await?;
            if first::<Value>(visible)?.is_none() {
                return Err(ApiError::NotFound("Organization not found".into()));
            }
            let updated =
                session.run(session.from("org").eq("id", &id).update(Value::Object(changes).to_string())).await?;
            match first::<Organization>(updated)? {
                Some(org) => Ok(Reply::ok(data(&org)?)),
                // Visible but not updatable: a plain member.
                None => Err(ApiError::Forbidden("Only owners and admins can update the organization".into())),
            }
        }
    }
}
