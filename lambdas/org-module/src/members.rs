//! members: list an organization's members with their names, invite by e-mail (owner or org admin), list and
//! withdraw the organization's open invitations (owner or org admin), change a role (owners), remove a member (owner
//! or org admin, or the member themself; never the last active owner), and the invitee's side: list, accept,
//! decline. The rules live in the database functions, so they hold for any
//! client.

use module_runtime::{ApiError, Call, Http, Registration, Reply};
use route_registry::modules::org;
use route_registry::modules::org::types::{ChangeRole, Invitation, InviteMember, Member, Membership, Message};
use route_registry::modules::org::{
    ACCEPT_INVITATION, ADD_MEMBER, CHANGE_ROLE, DECLINE_INVITATION, DELETE_MEMBER, LIST_INVITATIONS, LIST_MEMBERS,
    LIST_ORG_INVITATIONS, REVOKE_INVITATION,
};
use route_registry::Route;
use serde_json::json;

use crate::{data, one, rows};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Invite,
    ChangeRole,
    Remove,
    OrgInvitations,
    Revoke,
    Invitations,
    Accept,
    Decline,
}

pub const ROUTES: &[(Route, Op)] = &[
    (LIST_MEMBERS, Op::List),
    (ADD_MEMBER, Op::Invite),
    (CHANGE_ROLE, Op::ChangeRole),
    (DELETE_MEMBER, Op::Remove),
    (LIST_ORG_INVITATIONS, Op::OrgInvitations),
    (REVOKE_INVITATION, Op::Revoke),
    (LIST_INVITATIONS, Op::Invitations),
    (ACCEPT_INVITATION, Op::Accept),
    (DECLINE_INVITATION, Op::Decline),
];

/// The function, registered once: the catalog entry and its dispatch table.
pub const FUNCTION: Registration =
    Registration::http(org::MEMBERS, &Http { routes: ROUTES, run: |op, call| Box::pin(run(op, call)) });

/// One operation of this function.
pub async fn run(op: Op, call: Call) -> Result<Reply, ApiError> {
    let db = call.db()?;
    match op {
        Op::List => {
            let org_id = call.uuid("id")?;
            let found = db.call_read("list_org_members", &[("p_org_id", org_id.to_string())]).await?;
            Ok(Reply::ok(data(&rows::<Member>(found)?)?))
        }
        Op::Invite => {
            let org_id = call.uuid("id")?;
            let body: InviteMember = call.body()?;
            let row = db
                .call(
                    "invite_member",
                    &json!({"p_org_id": org_id, "p_email": body.email.as_str(), "p_role": body.role}),
                )
                .await?;
            let invitation: Invitation = one(row, "invite_member")?;
            Ok(Reply::created(data(&invitation)?))
        }
        Op::ChangeRole => {
            let (org_id, user_id) = (call.uuid("id")?, call.uuid("userId")?);
            let body: ChangeRole = call.body()?;
            let row = db
                .call("change_member_role", &json!({"p_org_id": org_id, "p_user_id": user_id, "p_role": body.role}))
                .await?;
            let membership: Membership = one(row, "change_member_role")?;
            Ok(Reply::ok(data(&membership)?))
        }
        Op::Remove => {
            let (org_id, user_id) = (call.uuid("id")?, call.uuid("userId")?);
            db.call("remove_org_member", &json!({ "p_org_id": org_id, "p_user_id": user_id })).await?;
            Ok(Reply::ok(data(&Message { message: "Member removed".into() })?))
        }
        Op::OrgInvitations => {
            let org_id = call.uuid("id")?;
            let found = db.call_read("list_org_invitations", &[("p_org_id", org_id.to_string())]).await?;
            Ok(Reply::ok(data(&rows::<Invitation>(found)?)?))
        }
        Op::Revoke => {
            let (org_id, id) = (call.uuid("id")?, call.uuid("invitationId")?);
            let row = db.call("revoke_invitation", &json!({ "p_org_id": org_id, "p_id": id })).await?;
            let invitation: Invitation = one(row, "revoke_invitation")?;
            Ok(Reply::ok(data(&invitation)?))
        }
        Op::Invitations => {
            let found = db.call_read("list_my_invitations", &[]).await?;
            Ok(Reply::ok(data(&rows::<Invitation>(found)?)?))
        }
        Op::Accept => {
            let id = call.uuid("id")?;
            let row = db.call("accept_invitation", &json!({ "p_id": id })).await?;
            let membership: Membership = one(row, "accept_invitation")?;
            Ok(Reply::ok(data(&membership)?))
        }
        Op::Decline => {
            let id = call.uuid("id")?;
            db.call("decline_invitation", &json!({ "p_id": id })).await?;
            Ok(Reply::ok(data(&Message { message: "Invitation declined".into() })?))
        }
    }
}
