//! members: list an organization's members with their names, invite by e-mail (owner or org admin), import up to
//! 10,000 invitations at once (owners: a task, run by the invitation-import worker), read or cancel a task, list and withdraw
//! the organization's open invitations (owner or org admin), change a role (owners), remove a member (owner or org
//! admin, or the member themself; never the last active owner), and the invitee's side: list, accept, decline. The
//! rules live in the database functions, so they hold for any client.

use module_runtime::{ApiError, Call, Http, Registration, Reply};
use route_registry::modules::org;
use route_registry::modules::org::types::{
    ChangeRole, ImportInvitations, Invitation, InviteMember, InviteRole, Member, Membership, Message, Task, TaskState,
    MAX_IMPORT_ADDRESSES,
};
use route_registry::modules::org::{
    ACCEPT_INVITATION, ADD_MEMBER, CANCEL_TASK, CHANGE_ROLE, DECLINE_INVITATION, DELETE_MEMBER, GET_TASK,
    IMPORT_INVITATIONS, IMPORT_LINES_PER_MESSAGE, LIST_INVITATIONS, LIST_MEMBERS, LIST_ORG_INVITATIONS,
    REVOKE_INVITATION,
};
use route_registry::validate::Email;
use route_registry::Route;
use serde_json::{json, Value};

use crate::workers::ImportRange;
use crate::{data, one, rows};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Invite,
    ChangeRole,
    Remove,
    OrgInvitations,
    Revoke,
    Import,
    GetTask,
    CancelTask,
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
    (IMPORT_INVITATIONS, Op::Import),
    (GET_TASK, Op::GetTask),
    (CANCEL_TASK, Op::CancelTask),
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
        Op::Import => import(&call).await,
        Op::GetTask => {
            let id = call.uuid("id")?;
            let row = db.call_read("get_task", &[("p_id", id.to_string())]).await?;
            let task: Task = one(row, "get_task")?;
            Ok(Reply::ok(data(&task)?))
        }
        Op::CancelTask => {
            let id = call.uuid("id")?;
            let row = db.call("cancel_task", &json!({ "p_id": id })).await?;
            let task: Task = one(row, "cancel_task")?;
            Ok(Reply::ok(data(&task)?))
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

/// `POST /organizations/{id}/invitations/import`: records the task and its lines, then queues its ranges (a task whose
/// ranges could not be queued fails at once, saying why).
async fn import(call: &Call) -> Result<Reply, ApiError> {
    let db = call.db()?;
    let org_id = call.uuid("id")?;
    let (body, media) = call.upload()?;
    let (addresses, role) = parse_import(body, media)?;
    let lines: Vec<Value> = addresses
        .iter()
        .map(|(line, address)| json!({"line": line, "address": address, "reason": Email::parse(address).err()}))
        .collect();
    let last_line = addresses.last().map_or(0, |(line, _)| *line);
    let row =
        db.call("start_invitation_import", &json!({"p_org_id": org_id, "p_lines": lines, "p_role": role})).await?;
    let task: Task = one(row, "start_invitation_import")?;
    if task.state == TaskState::Queued {
        let ranges: Vec<String> = ImportRange::cover(task.id, last_line, IMPORT_LINES_PER_MESSAGE)
            .iter()
            .map(ImportRange::to_message)
            .collect();
        if let Err(e) = call.queues()?.send(&org::INVITATION_IMPORT, &ranges, call.deadline).await {
            // Nothing waits for a task that could not be queued: it fails, saying why.
            let reason = "the import could not be queued; start it again";
            if let Err(also) = db.call("abandon_task", &json!({"p_id": task.id, "p_reason": reason})).await {
                tracing::error!(task = %task.id, error = also.log_detail(), "an unqueued import stays queued until the stall bound fails it");
            }
            return Err(e);
        }
    }
    let location = format!("/tasks/{}", task.id);
    Ok(Reply::accepted(data(&task)?, location))
}

/// The addresses of an import, each with its line number, and the role they are invited with, from JSON
/// (`ImportInvitations`: the line is the address's position in the list) or CSV (one address per line; an optional
/// header line `email[,role]`; an optional second column `role` that must be the same on every line, since one import
/// invites with one role: the line is the file's own line, header and empty lines counted). One numbering for the
/// 400 answers and the task's result. Lines are kept as given (trimmed): each is checked on its own and reported in
/// the task's result, so one bad line never refuses the others. Empty lines of a CSV are skipped; more than
/// [`MAX_IMPORT_ADDRESSES`] addresses are refused whole (400).
pub fn parse_import(body: &[u8], media: &str) -> Result<(Vec<(usize, String)>, InviteRole), ApiError> {
    let (addresses, role) = match media {
        "text/csv" => {
            let text =
                std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("The CSV body is not UTF-8 text".into()))?;
            let mut addresses = Vec::new();
            let mut role: Option<InviteRole> = None;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim().trim_start_matches('\u{feff}');
                if line.is_empty() {
                    continue;
                }
                let mut columns = line.split(',').map(|c| c.trim().trim_matches('"'));
                let address = columns.next().unwrap_or("");
                let second = columns.next();
                if n == 0 && address.eq_ignore_ascii_case("email") {
                    continue;
                }
                if columns.next().is_some() {
                    return Err(ApiError::BadRequest(format!(
                        "line {}: a CSV line is an address, optionally followed by a role",
                        n + 1
                    )));
                }
                if let Some(r) = second.filter(|r| !r.is_empty()) {
                    let this = match r.to_ascii_lowercase().as_str() {
                        "member" => InviteRole::Member,
                        "admin" => InviteRole::Admin,
                        other => {
                            return Err(ApiError::BadRequest(format!(
                                "line {}: role must be member or admin, not {other}",
                                n + 1
                            )))
                        }
                    };
                    if role.is_some_and(|r| r != this) {
                        return Err(ApiError::BadRequest(format!(
                            "line {}: one import invites with one role; split the file by role",
                            n + 1
                        )));
                    }
                    role = Some(this);
                }
                addresses.push((n + 1, address.to_owned()));
            }
            (addresses, role.unwrap_or_default())
        }
        _ => {
            let request: ImportInvitations = module_runtime::parse::parse_json(body, body.len())?;
            let numbered = request.addresses.into_iter().enumerate().map(|(i, a)| (i + 1, a.trim().to_owned()));
            (numbered.collect(), request.role)
        }
    };
    if addresses.is_empty() {
        return Err(ApiError::BadRequest("The import has no address".into()));
    }
    if addresses.len() > MAX_IMPORT_ADDRESSES {
        return Err(ApiError::BadRequest(format!(
            "An import takes at most {MAX_IMPORT_ADDRESSES} addresses, not {}; split it",
            addresses.len()
        )));
    }
    if let Some((line, _)) = addresses.iter().find(|(_, a)| a.len() > 1000) {
        return Err(ApiError::BadRequest(format!("line {line}: longer than 1,000 characters")));
    }
    // The shared `Text` rule, as the document states it for each address (`ImportLine`): a control character (U+0000
    // cannot even be stored to report the line), a bidirectional control or a zero-width character refuses the import.
    for (line, address) in &addresses {
        if let Some(c) = address.chars().find(|c| route_registry::validate::is_forbidden(*c)) {
            return Err(ApiError::BadRequest(format!(
                "line {line}: holds U+{:04X}, a control, bidirectional-control or zero-width character; remove it",
                c as u32
            )));
        }
    }
    Ok((addresses, role))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_read_json_and_csv_alike() {
        let json = br#"{"addresses": [" a@example.com", "b@example.com"], "role": "admin"}"#;
        let numbered = |lines: &[(usize, &str)]| -> Vec<(usize, String)> {
            lines.iter().map(|(n, a)| (*n, (*a).to_owned())).collect()
        };
        assert_eq!(
            parse_import(json, "application/json").unwrap(),
            (numbered(&[(1, "a@example.com"), (2, "b@example.com")]), InviteRole::Admin)
        );
        // A CSV's lines are the file's own: the header and an empty line count, so line 4 is line 4 everywhere.
        let csv = "\u{feff}email,role\r\na@example.com,admin\r\n\r\n\"b@example.com\",admin\n";
        assert_eq!(
            parse_import(csv.as_bytes(), "text/csv").unwrap(),
            (numbered(&[(2, "a@example.com"), (4, "b@example.com")]), InviteRole::Admin)
        );
        // A bad address is a line like any other: the task reports it.
        assert_eq!(parse_import(b"not an address\n", "text/csv").unwrap().0, numbered(&[(1, "not an address")]));
    }

    #[test]
    fn what_cannot_be_an_import_is_refused_whole() {
        let refused = |body: &[u8], media: &str| parse_import(body, media).unwrap_err().to_string();
        assert!(refused(b"", "text/csv").contains("no address"));
        assert!(refused(b"a@example.com,owner\n", "text/csv").contains("member or admin"));
        assert!(refused(b"a@example.com,admin\nb@example.com,member\n", "text/csv").contains("one role"));
        assert!(refused(b"a@example.com,admin,x\n", "text/csv").contains("optionally followed by a role"));
        assert!(refused(&[0xff, 0xfe], "text/csv").contains("UTF-8"));
        assert!(refused(b"a@example.com\nb\0@example.com\n", "text/csv").contains("line 2: holds U+0000"));
        // With a header and an empty line before it, the refused line is still named by the file's numbering.
        assert!(refused(b"email\na@example.com\n\nb\0@example.com\n", "text/csv").contains("line 4: holds U+0000"));
        assert!(refused(br#"{"addresses": ["a@example.com", "\u0000"]}"#, "application/json").contains("line 2"));
        assert!(refused("x\u{200b}@example.com".as_bytes(), "text/csv").contains("line 1: holds U+200B"));
        assert!(refused(br#"{"addresses": []}"#, "application/json").contains("no address"));
        let many = "x@example.com\n".repeat(MAX_IMPORT_ADDRESSES + 1);
        assert!(refused(many.as_bytes(), "text/csv").contains("at most 10000"));
        assert!(
            refused(br#"{"addresses": ["a@example.com"], "extra": 1}"#, "application/json").contains("unknown field")
        );
    }
}
