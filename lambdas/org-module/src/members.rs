//! members: list an organization's members, add one (owner or org admin; by user id or e-mail), remove one (owner
//! or org admin, or a member removing themself; never the last owner). The role rules live in the database
//! functions, so they hold for any client.

use lambda_http::{Body, Request, Response};
use org_common::{dispatch, ApiError, Call, Db, Reply};
use route_registry::{org, Route};
use serde_json::{json, Value};

use crate::types::{data, first, rows, AddMember, Membership, Message};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Add,
    Remove,
}

pub const ROUTES: &[(Route, Op)] =
    &[(org::LIST_MEMBERS, Op::List), (org::ADD_MEMBER, Op::Add), (org::DELETE_MEMBER, Op::Remove)];

pub async fn handle(db: &Db, req: Request) -> Response<Body> {
    dispatch(ROUTES, req, |op, call| run(db, op, call)).await
}

async fn run(db: &Db, op: Op, call: Call) -> Result<Reply, ApiError> {
    let org_id = call.uuid("id")?;
    match op {
        Op::List => {
            let session = db.session(&call.caller)?;
            let visible = session.run(session.from("org").select("id").eq("id", org_id.to_string())).await?;
            if first::<Value>(visible)?.is_none() {
                return Err(ApiError::NotFound("Organization not found".into()));
            }
            let found = session
                .run(
                    session
                        .from("org_member")
                        .select("id,org_id,user_id,role,created_at")
                        .eq("org_id", org_id.to_string())
                        .order("created_at.asc,id.asc"),
                )
                .await?;
            Ok(Reply::ok(data(&rows::<Membership>(found)?)?))
        }
        Op::Add => {
            let body: AddMember = call.body()?;
            if body.user_id.is_some() == body.email.is_some() {
                return Err(ApiError::BadRequest("Give exactly one of user_id, email".into()));
            }
            let row = db
                .session(&call.caller)?
                .rpc(
                    "add_org_member",
                    &json!({
                        "p_org_id": org_id,
                        "p_role": body.role,
                        "p_user_id": body.user_id,
                        "p_email": body.email.as_ref().map(|e| e.as_str()),
                    }),
                )
                .await?;
            let membership: Membership =
                first(row)?.ok_or_else(|| ApiError::internal("add_org_member returned nothing"))?;
            Ok(Reply::created(data(&membership)?))
        }
        Op::Remove => {
            let user_id = call.uuid("userId")?;
            db.session(&call.caller)?
                .rpc("remove_org_member", &json!({ "p_org_id": org_id, "p_user_id": user_id }))
                .await?;
            Ok(Reply::ok(data(&Message { message: "Member removed".into() })?))
        }
    }
}
