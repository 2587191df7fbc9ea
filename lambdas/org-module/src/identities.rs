//! identities-management: provision (admin), read (admin or self), deactivate (admin) users.
//!
//! Visibility is Row-Level Security's job (`identities_select`: yourself, or everyone for admins); the admin
//! checks here only give a clear 403 before the database would refuse anyway.

use lambda_http::{Body, Request, Response};
use org_common::{dispatch, ApiError, Call, Db, Reply};
use route_registry::{org, Route};
use serde_json::json;

use crate::types::{data, first, Identity, Message, ProvisionIdentity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Get,
    Deactivate,
}

/// The routes this function serves, from the registry.
pub const ROUTES: &[(Route, Op)] =
    &[(org::CREATE_IDENTITY, Op::Create), (org::GET_IDENTITY, Op::Get), (org::DELETE_IDENTITY, Op::Deactivate)];

pub async fn handle(db: &Db, req: Request) -> Response<Body> {
    dispatch(ROUTES, req, |op, call| run(db, op, call)).await
}

async fn run(db: &Db, op: Op, call: Call) -> Result<Reply, ApiError> {
    match op {
        Op::Create => {
            call.caller.require_admin()?;
            let body: ProvisionIdentity = call.body()?;
            let session = db.session(&call.caller)?;
            let row = session
                .rpc(
                    "provision_identity",
                    &json!({
                        "p_idp_subject": body.idp_subject.as_str(),
                        "p_email": body.email.as_str(),
                        "p_first_name": body.first_name.as_ref().map(|n| n.as_str()),
                        "p_last_name": body.last_name.as_ref().map(|n| n.as_str()),
                    }),
                )
                .await?;
            let identity: Identity =
                first(row)?.ok_or_else(|| ApiError::internal("provision_identity returned nothing"))?;
            Ok(Reply::created(data(&identity)?))
        }
        Op::Get => {
            let id = call.uuid("id")?;
            let session = db.session(&call.caller)?;
            let rows = session.run(session.from("identities").select("*").eq("id", id.to_string())).await?;
            match first::<Identity>(rows)? {
                Some(identity) => Ok(Reply::ok(data(&identity)?)),
                None => Err(ApiError::NotFound("Identity not found".into())),
            }
        }
        Op::Deactivate => {
            call.caller.require_admin()?;
            let id = call.uuid("id")?;
            db.session(&call.caller)?.rpc("deactivate_identity", &json!({ "p_id": id })).await?;
            Ok(Reply::ok(data(&Message { message: "Identity deactivated".into() })?))
        }
    }
}
