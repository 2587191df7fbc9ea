//! profiles: the caller's own profile (read, update, soft delete). The database functions select the caller's row
//! from the token's subject; a deleted profile is 404 from then on.

use module_runtime::{ApiError, Call, Http, Registration, Reply};
use route_registry::modules::org;
use route_registry::modules::org::types::{Message, Profile, UpdateProfile};
use route_registry::modules::org::{DELETE_PROFILE, GET_PROFILE, UPDATE_PROFILE};
use route_registry::Route;
use serde_json::json;

use crate::{data, first};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Get,
    Update,
    Delete,
}

pub const ROUTES: &[(Route, Op)] =
    &[(GET_PROFILE, Op::Get), (UPDATE_PROFILE, Op::Update), (DELETE_PROFILE, Op::Delete)];

/// The function, registered once: the catalog entry and its dispatch table.
pub const FUNCTION: Registration =
    Registration::http(org::PROFILES, &Http { routes: ROUTES, run: |op, call| Box::pin(run(op, call)) });

/// One operation of this function.
pub async fn run(op: Op, call: Call) -> Result<Reply, ApiError> {
    let not_found = || ApiError::NotFound("Profile not found".into());
    match op {
        Op::Get => {
            let rows = call.db()?.call_read("get_my_profile", &[]).await?;
            let profile: Profile = first(rows)?.ok_or_else(not_found)?;
            Ok(Reply::ok(data(&profile)?))
        }
        Op::Update => {
            let body: UpdateProfile = call.body()?;
            let rows = call
                .db()?
                .call(
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
            call.db()?.call("delete_my_profile", &json!({})).await?;
            Ok(Reply::ok(data(&Message { message: "Profile deleted".into() })?))
        }
    }
}
