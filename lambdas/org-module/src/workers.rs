//! org-module's functions without a caller, each acting as the module's service principal (its own token from the
//! identity provider; in the database it may execute only the functions the catalog lists for the module):
//!
//! - **invitation-import** (queue): one message is one range of an import's lines; the database function handles
//!   the lines of the range not handled yet, each with its outcome in the same transaction, so a message delivered
//!   twice has one effect.
//! - **okta-reconcile** (schedule): asks Okta's Users API for the users deactivated or suspended since the cursor
//!   (sorted by when their status changed, then by id), deactivates their identities here, and moves the cursor;
//!   at most [`RECONCILE_MAX_USERS`] a run, so a backlog takes several runs and each resumes where the last stopped.
//!   Each run first ends the module's stalled tasks (an import that no worker moved within the database's bound
//!   fails with the reason; migration 0017).

use module_runtime::{ApiError, Message, OnMessage, OnSchedule, Registration, ScheduledRun, Work};
use route_registry::modules::org::{self, RECONCILE_MAX_PAGES, RECONCILE_MAX_USERS};
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
    // The event line (and so the failed events' query, when its messages go to the dead-letter queue) names the task.
    work.about(format!("task {}", range.task_id));
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
pub const PAGE: u32 = org::RECONCILE_PAGE as u32;

/// How far after the run's start a status change may lie and still be the clocks' difference, not a wrong answer.
pub const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Where the run has got: the last status change it handled (milliseconds), and the Okta ids handled at that instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at_ms: i64,
    pub ids: Vec<String>,
}

impl Cursor {
    /// Moves past a user whose status changed at `changed_ms`, never beyond `now_ms`: a status change "in the
    /// future" would stop every later run from seeing what happens until then. Whether it moved.
    pub fn advance(&mut self, changed_ms: i64, id: &str, now_ms: i64) -> bool {
        if changed_ms > now_ms || changed_ms < self.at_ms {
            return false;
        }
        if changed_ms > self.at_ms {
            self.at_ms = changed_ms;
            self.ids.clear();
        }
        if !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_owned());
        }
        true
    }

    /// Whether a user was handled already (at the cursor's very instant, by an earlier run or page).
    pub fn handled(&self, changed_ms: i64, id: &str) -> bool {
        changed_ms == self.at_ms && self.ids.iter().any(|i| i == id)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// One reconciliation run (the identities it deactivated): at most [`RECONCILE_MAX_USERS`] users over at most
/// [`RECONCILE_MAX_PAGES`] pages. What Okta answers is bounded rather than trusted: a `next` link it gave before, or
/// an empty page that links to another, ends the run; a status change later than the run's start (past a clock skew)
/// deactivates its user but never moves the cursor there. Each is an anomaly of the run's event line (alarmed).
pub async fn reconcile(work: Work, run: ScheduledRun) -> Result<u64, ApiError> {
    let started_ms = now_ms();
    let db = work.db()?;
    // The module's housekeeping first, so an Okta that does not answer never keeps a stalled task from ending.
    let ended = db.call("end_stalled_tasks", &json!({})).await?;
    tracing::info!(ended = %ended, "stalled tasks ended");
    let okta = work.okta()?;
    let state: SyncState = serde_json::from_value(db.call_read("okta_sync_state", &[]).await?)
        .map_err(|e| ApiError::internal(format!("okta_sync_state answered an unexpected shape: {e}")))?;
    let at_ms = route_registry::time::parse_rfc3339_ms(&state.cursor_at)
        .ok_or_else(|| ApiError::internal(format!("okta_sync_state's cursor is not a time: {}", state.cursor_at)))?;
    let mut cursor = Cursor { at_ms: at_ms.min(started_ms), ids: state.cursor_ids };
    let search = search_since(&route_registry::time::rfc3339_ms(cursor.at_ms.max(0) as u64));
    let (mut seen, mut deactivated, mut pages) = (0usize, 0u64, 0usize);
    let mut links: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    while pages < RECONCILE_MAX_PAGES && seen < RECONCILE_MAX_USERS {
        let page = okta.search(&search, "statusChanged", PAGE, after.as_deref()).await?;
        pages += 1;
        let mut batch = Vec::new();
        let empty = page.users.is_empty();
        for user in page.users {
            let changed = user.status_changed.as_deref().and_then(route_registry::time::parse_rfc3339_ms);
            if changed.is_some_and(|c| cursor.handled(c, &user.id)) {
                continue;
            }
            if seen >= RECONCILE_MAX_USERS {
                break;
            }
            seen += 1;
            let latest = started_ms + CLOCK_SKEW_MS;
            match changed {
                None => {
                    work.anomaly(format!("user {} has no readable statusChanged ({:?})", user.id, user.status_changed))
                }
                Some(c) if c > latest => {
                    work.anomaly(format!("user {}'s status changed in the future ({:?})", user.id, user.status_changed))
                }
                Some(c) => {
                    cursor.advance(c, &user.id, latest);
                }
            }
            batch.push(json!({"okta_id": user.id, "login": user.profile.login}));
        }
        let cursor_at = route_registry::time::rfc3339_ms(cursor.at_ms.max(0) as u64);
        if !batch.is_empty() {
            let answer: Value = db
                .call(
                    "deactivate_from_idp",
                    &json!({"p_users": batch, "p_cursor_at": cursor_at, "p_cursor_ids": cursor.ids}),
                )
                .await?;
            deactivated += answer.get("deactivated").and_then(Value::as_u64).unwrap_or(0);
        }
        let Some(next) = page.next else { break };
        if empty {
            work.anomaly("Okta answered an empty page that links to another");
            break;
        }
        if links.contains(&next) {
            work.anomaly(format!("Okta's next link does not advance ({next})"));
            break;
        }
        links.push(next.clone());
        after = Some(next);
        if pages == RECONCILE_MAX_PAGES && seen < RECONCILE_MAX_USERS {
            work.anomaly(format!("{pages} pages held only {seen} users; the rest waits for the next run"));
        }
    }
    tracing::info!(run = run.id, seen, pages, deactivated, cursor_at = cursor.at_ms, "reconciled with Okta");
    Ok(deactivated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_moves_forward_to_now_at_most() {
        let mut c = Cursor { at_ms: 1_000, ids: vec!["a".into()] };
        assert!(c.handled(1_000, "a") && !c.handled(1_000, "b") && !c.handled(999, "a"));
        assert!(c.advance(1_000, "b", 5_000), "the same instant: one more id");
        assert_eq!(c.ids, ["a", "b"]);
        assert!(c.advance(2_000, "c", 5_000));
        assert_eq!(c, Cursor { at_ms: 2_000, ids: vec!["c".into()] });
        assert!(!c.advance(9_999_999, "d", 5_000), "a change in the future never moves the cursor");
        assert!(!c.advance(1_500, "e", 5_000), "nor one before it");
        assert_eq!(c.at_ms, 2_000);
    }

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
