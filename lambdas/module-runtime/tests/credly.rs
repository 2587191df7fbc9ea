//! The Credly client against the Credly stand-in: pages and the `updated_at_min` cursor, an event fetched back (and a
//! forged one refused), `429` with `Retry-After`, a rotated token read again once, a hung Credly bounded by the
//! deadline, a failing one mapped to 502. Every exchange is written to `target/credly-contract/` for the contract
//! check (`cargo xtask credly-contract`), which holds both sides to `xtask/contracts/credly-api.yaml`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use module_runtime::credly::{Credly, CredlyError, Cursor, FixedToken, Page, TokenSource};
use module_runtime::ApiError;
use standins::credly::CredlyStandin;

const TOKEN: &str = "org-token-1";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn client(standin: &CredlyStandin, token: Arc<dyn TokenSource>) -> Credly {
    let http = module_runtime::http_client::client().unwrap();
    Credly::new(http, &format!("{}/v1", standin.url), &standin.organization_id, token)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// Keeps the stand-in's exchanges for the contract check, one file per test.
fn keep(name: &str, standin: &CredlyStandin) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../credly-contract");
    std::fs::create_dir_all(&dir).unwrap();
    let lines: Vec<String> = standin.exchanges().iter().map(|x| serde_json::to_string(x).unwrap()).collect();
    std::fs::write(dir.join(format!("{name}.jsonl")), lines.join("\n") + "\n").unwrap();
}

#[test]
fn pages_of_fifty_oldest_change_first_from_a_cursor() {
    let standin = CredlyStandin::start(TOKEN).unwrap();
    standin.issue_many(120, "example.com", "Cloud Practitioner");
    let credly = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    let rt = runtime();
    let mut seen = Vec::new();
    for page in 1..=3 {
        let p = rt.block_on(credly.badges(None, page, soon())).unwrap();
        assert_eq!((p.page, p.total_pages, p.more), (page, 3, page < 3));
        seen.extend(p.badges);
    }
    assert_eq!(seen.len(), 120);
    assert!(seen.windows(2).all(|w| w[0].updated_at <= w[1].updated_at), "oldest change first");
    // From the 61st badge's change on: 60 badges.
    let since = seen[60].updated_at.clone();
    let p = rt.block_on(credly.badges(Some(&since), 1, soon())).unwrap();
    assert_eq!((p.badges.len(), p.total_pages, p.badges[0].id.clone()), (50, 2, seen[60].id.clone()));
    keep("pages", &standin);
}

#[test]
fn an_event_is_fetched_back_and_a_forged_one_is_nothing() {
    let standin = CredlyStandin::start(TOKEN).unwrap();
    let (badge, created) = standin.issue("alice@example.com", "Solutions Architect");
    let revoked = standin.revoke(&badge).unwrap();
    let credly = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    let rt = runtime();
    let event = rt.block_on(credly.event(&created, soon())).unwrap().unwrap();
    assert_eq!(
        (event.event_type.as_str(), event.badge.as_ref().unwrap().state.as_str()),
        ("badge.created", "accepted")
    );
    let event = rt.block_on(credly.event(&revoked, soon())).unwrap().unwrap();
    assert_eq!(event.badge.unwrap().state, "revoked");
    assert_eq!(event.organization_id, standin.organization_id);
    let forged = "0b5e3c52-7f4c-4f39-9c6e-0d1d2f0a9b11";
    assert!(rt.block_on(credly.event(forged, soon())).unwrap().is_none());
    keep("events", &standin);
}

#[test]
fn a_throttled_request_says_how_long_to_wait() {
    let standin = CredlyStandin::start(TOKEN).unwrap();
    standin.issue("bob@example.com", "Data Engineer");
    standin.throttle_next(1, 7);
    let credly = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    let rt = runtime();
    match rt.block_on(credly.badges(None, 1, soon())) {
        Err(CredlyError::Throttled { retry_after }) => assert_eq!(retry_after, Duration::from_secs(7)),
        other => panic!("{other:?}"),
    }
    // As the platform answers it: 503 with the same wait.
    let e: ApiError = CredlyError::Throttled { retry_after: Duration::from_secs(7) }.into();
    assert_eq!((e.status(), e.retry_after()), (503, Some(7)));
    assert_eq!(rt.block_on(credly.badges(None, 1, soon())).unwrap().badges.len(), 1, "the next request is served");
    keep("throttle", &standin);
}

/// Reads the token the secret holds now: the old one until it is read again.
struct Rotating {
    reads: AtomicUsize,
}

impl TokenSource for Rotating {
    fn token(&self, refresh: bool) -> Pin<Box<dyn Future<Output = Result<String, ApiError>> + Send + '_>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(if refresh { "org-token-2".to_owned() } else { TOKEN.to_owned() }) })
    }
}

#[test]
fn a_rotated_token_is_read_again_once() {
    let standin = CredlyStandin::start(TOKEN).unwrap();
    standin.issue("carol@example.com", "Security Specialist");
    standin.rotate_token("org-token-2");
    let rotating = Arc::new(Rotating { reads: AtomicUsize::new(0) });
    let credly = client(&standin, rotating.clone());
    let rt = runtime();
    assert_eq!(rt.block_on(credly.badges(None, 1, soon())).unwrap().badges.len(), 1);
    assert_eq!(rotating.reads.load(Ordering::SeqCst), 2, "read, refused, read again");
    // A token refused after it was read again is the secret's fault: 502, naming the token, and no third try.
    let stale = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    let before = standin.exchanges().len();
    let e: ApiError = rt.block_on(stale.badges(None, 1, soon())).unwrap_err().into();
    assert_eq!(e.status(), 502);
    assert!(format!("{e:?}").contains("token"), "{e:?}");
    assert_eq!(standin.exchanges().len() - before, 2);
    keep("rotation", &standin);
}

#[test]
fn a_hung_credly_ends_within_the_deadline_and_a_failing_one_is_502() {
    let standin = CredlyStandin::start(TOKEN).unwrap();
    standin.hang_next(1, Duration::from_secs(4));
    let credly = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    let rt = runtime();
    let start = Instant::now();
    let e: ApiError =
        rt.block_on(credly.badges(None, 1, Instant::now() + Duration::from_millis(1500))).unwrap_err().into();
    assert_eq!(e.status(), 504);
    assert!(start.elapsed() < Duration::from_millis(2500), "{:?}", start.elapsed());
    standin.fail_next(1);
    let e: ApiError = rt.block_on(credly.badges(None, 1, soon())).unwrap_err().into();
    assert_eq!(e.status(), 502);
    keep("faults", &standin);
}

/// Reads a whole pass with the cursor from the start, calling `after_page` with each page read; the badges read
/// (id and state), and where the cursor ended with how many requests it took.
fn pass_by_cursor(
    credly: &Credly,
    rt: &tokio::runtime::Runtime,
    mut after_page: impl FnMut(&Page),
) -> (Vec<(String, String)>, Cursor, u32) {
    let mut cursor = Cursor::default();
    let mut seen = Vec::new();
    for requests in 1..=100 {
        let page = rt.block_on(credly.badges_at(&cursor, soon())).unwrap();
        seen.extend(page.badges.iter().map(|b| (b.id.clone(), b.state.clone())));
        after_page(&page);
        let (next, more) = cursor.after(&page);
        cursor = next;
        if !more {
            return (seen, cursor, requests);
        }
    }
    panic!("the pass did not end in 100 pages")
}

#[test]
fn a_pass_by_the_cursor_misses_no_badge_when_another_changes_meanwhile() {
    let rt = runtime();
    // Page numbers over a fixed `since`: the revoked badge moves to the end, and one badge is never read.
    let standin = CredlyStandin::start(TOKEN).unwrap();
    standin.issue_many(120, "example.com", "Cloud Practitioner");
    let credly = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    let mut by_number = std::collections::BTreeSet::new();
    for page in 1..=3 {
        let p = rt.block_on(credly.badges(None, page, soon())).unwrap();
        if page == 1 {
            standin.revoke(&p.badges[3].id).unwrap();
        }
        by_number.extend(p.badges.into_iter().map(|b| b.id));
    }
    assert_eq!(by_number.len(), 119, "the flaw the cursor avoids");
    // The cursor: every badge read, the revoked one again, revoked.
    let standin = CredlyStandin::start(TOKEN).unwrap();
    standin.issue_many(120, "example.com", "Cloud Practitioner");
    let credly = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    // A badge already read is revoked after the first page.
    let mut revoked = false;
    let (seen, _, _) = pass_by_cursor(&credly, &rt, |page| {
        if !revoked {
            standin.revoke(&page.badges[3].id).unwrap();
            revoked = true;
        }
    });
    let ids: std::collections::BTreeSet<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 120);
    assert!(seen.iter().any(|(_, state)| state == "revoked"), "the change was read too");
    keep("cursor", &standin);
}

#[test]
fn more_than_a_page_changed_in_one_instant_is_paged_within_it() {
    let rt = runtime();
    let standin = CredlyStandin::start(TOKEN).unwrap();
    standin.issue_at_once(120, "example.com", "Bulk");
    let credly = client(&standin, Arc::new(FixedToken(TOKEN.into())));
    let (seen, cursor, requests) = pass_by_cursor(&credly, &rt, |_| {});
    let ids: std::collections::BTreeSet<&String> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 120);
    // The first page moves the cursor to the instant; then pages 1, 2 and 3 of it.
    assert_eq!((requests, cursor.page), (4, 4));
    keep("instant", &standin);
}
