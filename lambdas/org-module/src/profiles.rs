//! profiles: the caller's own profile (read, update, soft delete). The database functions select the caller's row
//! from the token's subject; a deleted profile is 404 from then on.

use lambda_http::{Body, Request, Response};
use org_common::{dispatch, ApiError, Call, Db, Reply};
use route_registry::{org, Route};
use serde_json::json;

use crate::types::{data, first, Message, Profile, UpdateProfile};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Update,
    Delete,
}

pub const ROUTES: &[(Route, Op)] =
    &[(org::GET_PROFILE, Op::Get), (org::UPDATE_PROFILE, Op::Update), (org::DELETE_PROFILE, Op::Delete)];

pub async fn handle(db: &Db, req: Request) -> Response<Body> {
    dispatch(ROUTES, req, |op, call| run(db, op, call)).await
}

async fn run(db: &Db, op: Op, call: Call) -> Result<Reply, ApiError> {
    let not_found = || ApiError::NotFound("Profile not found".into());
    match op {
        Op::Get => {
            let rows = db.session(&call.caller)?.rpc("get_my_profile", &json!({})).await?;
            let profile: Profile = first(rows)?.ok_or_else(not_found)?;
            Ok(Reply::ok(data(&profile)?))
        }
        Op::Update => {
            let body: UpdateProfile = call.body()?;
            let rows = db
                .session(&call.caller)?
                .rpc(
                    "update_my_profile",
                    &json!({
                        "p_first_name": body.first_name.as_str(),
                        "p_last_name": body.last_name.as_str(),
                        "p_phone": body.phone.as_ref().map(|p| p.as_str()),
                    }),
                )
                .await?;
            let profile: Profile = first(rows)?.ok_or_else(not_found)?;
            Ok(Reply::ok(data(&profile)?))
        }
        Op::Delete => {
            db.session(&call.caller)?.rpc("delete_my_profile", &json!({})).await?;
            Ok(Reply::ok(data(&Message { message: "Profile deleted".into() })?))
        }
    }
}
