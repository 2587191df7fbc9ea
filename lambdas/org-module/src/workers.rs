//! org-module's functions without a caller, each acting as the module's service principal (its own token from the
//! identity provider; in the database it may execute only the functions the catalog lists for the module):
//!
//! - **invitation-import** (queue): one message is one range of an import's lines; the database function handles
//!   the lines of the range not handled yet, each with its outcome in the same transaction, so a message delivered
//!   twice has one effect.
//! - **okta-reconcile** (schedule): asks Okta's Users API for the users deactivated or suspended since the cursor
//!   (sorted by when their status changed, then by id), deactivates their identities here, and moves the cursor;
//!   at most [`RECONCILE_MAX_USERS`] a run, so a backlog takes several runs and each resumes where the last stopped.

use module_runtime::{ApiError, Message, OnMessage, OnSchedule, Registration, ScheduledRun, Work};
use route_registry::modules::org::{self, RECONCILE_MAX_USERS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

/// The invitation-import worker, registered once.
pub const INVITATION_IMPORT: Registration =
    Registration::queue(org::INVITATION_IMPORT, &OnMessage { run: |work, message| Box::pin(import(work, message)) });

/// The reconciliation with Okta, registered once.
pub const OKTA_RECONCILE: Registration =
    Registration::schedule(org::OKTA_RECONCILE, &OnSchedule { run: |work, run| Box::pin(reconcile(work, run)) });

/// One message of an import: lines `first` to `last` of task `task_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRange {
    pub task_id: Uuid,
    pub first: u32,
    pub last: u32,
}

impl ImportRange {
    /// The ranges of `per` lines that cover lines 1 to `lines`.
    pub fn cover(task_id: Uuid, lines: usize, per: usize) -> Vec<ImportRange> {
        let per = per.max(1);
        (0..lines.div_ceil(per))
            .map(|i| ImportRange { task_id, first: (i * per + 1) as u32, last: ((i + 1) * per).min(lines) as u32 })
            .collect()
    }

    pub fn to_message(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Handles one range of an import (the lines it handled).
pub async fn import(work: Work, message: Message) -> Result<u64, ApiError> {
    let range: ImportRange = serde_json::from_str(&message.body)
        .map_err(|e| ApiError::BadRequest(format!("message {} is not an import range: {e}", message.id)))?;
    if range.first == 0 || range.last < range.first {
        return Err(ApiError::BadRequest(format!("message {}: an empty range", message.id)));
    }
    work.db()?
        .call(
            "import_invitation_lines",
            &json!({"p_task_id": range.task_id, "p_first": range.first, "p_last": range.last}),
        )
        .await?;
    Ok(u64::from(range.last - range.first + 1))
}

/// Where the last run stopped.
#[derive(Debug, Deserialize)]
struct SyncState {
    cursor_at: String,
    cursor_ids: Vec<String>,
}

/// The search of one run: users deactivated (DEPROVISIONED) or suspended since `cursor_at`.
pub fn search_since(cursor_at: &str) -> String {
    format!(r#"(status eq "DEPROVISIONED" or status eq "SUSPENDED") and statusChanged ge "{cursor_at}""#)
}

/// Users per page of the search (Okta's maximum for a search is 200).
pub const PAGE: u32 = 200;

/// One reconciliation run (the identities it deactivated).
pub async fn reconcile(work: Work, run: ScheduledRun) -> Result<u64, ApiError> {
    let db = work.db()?;
    let okta = work.okta()?;
    let state: SyncState = serde_json::from_value(db.call_read("okta_sync_state", &[]).await?)
        .map_err(|e| ApiError::internal(format!("okta_sync_state answered an unexpected shape: {e}")))?;
    let (mut cursor_at, mut cursor_ids) = (state.cursor_at, state.cursor_ids);
    let search = search_since(&cursor_at);
    let (mut seen, mut deactivated, mut after) = (0usize, 0u64, None::<String>);
    loop {
        let page = okta.search(&search, "statusChanged", PAGE, after.as_deref()).await?;
        let mut batch = Vec::new();
        for user in page.users {
            let Some(changed) = user.status_changed.clone() else { continue };
            if changed == cursor_at && cursor_ids.contains(&user.id) {
                continue; // handled by an earlier run that stopped within this second
            }
            if seen >= RECONCILE_MAX_USERS {
                break;
            }
            seen += 1;
            if changed != cursor_at {
                cursor_at = changed;
                cursor_ids.clear();
            }
            cursor_ids.push(user.id.clone());
            batch.push(json!({"okta_id": user.id, "login": user.profile.login}));
        }
        if !batch.is_empty() {
            let answer: Value = db
                .call(
                    "deactivate_from_idp",
                    &json!({"p_users": batch, "p_cursor_at": cursor_at, "p_cursor_ids": cursor_ids}),
                )
                .await?;
            deactivated += answer.get("deactivated").and_then(Value::as_u64).unwrap_or(0);
        }
        match page.next {
            Some(next) if seen < RECONCILE_MAX_USERS => after = Some(next),
            _ => break,
        }
    }
    tracing::info!(run = run.id, seen, deactivated, cursor_at, "reconciled with Okta");
    Ok(deactivated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_line_once() {
        let id = Uuid::nil();
        let ranges = ImportRange::cover(id, 401, 200);
        assert_eq!(
            ranges,
            [
                ImportRange { task_id: id, first: 1, last: 200 },
                ImportRange { task_id: id, first: 201, last: 400 },
                ImportRange { task_id: id, first: 401, last: 401 },
            ]
        );
        assert!(ImportRange::cover(id, 0, 200).is_empty());
        let message = ranges[0].to_message();
        assert_eq!(serde_json::from_str::<ImportRange>(&message).unwrap(), ranges[0]);
    }
}
