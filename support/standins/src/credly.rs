//! A stand-in for the part of Credly's web service API that cert-module uses, held to the OpenAPI document written
//! from Credly's published pages (`xtask/contracts/credly-api.yaml`; the contract check validates every exchange): an
//! organization's issued badges, a page of 50 at a time with Credly's `filter`, `sort` and `metadata`, and its events
//! by id, as a webhook's receiver fetches them back. Authentication is HTTP Basic with the organization's token as
//! the user name.
//!
//! What a test drives: badges issued, changed, revoked and deleted (each an event, as Credly records one), a throttle
//! (`429` with `Retry-After` for the next requests), failures outside the document (`503`) and hangs, and a rotated
//! token (the old one answers `401`). Every exchange is recorded for the contract check; the token never is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

pub use crate::okta::Exchange;

/// Credly's page size for listings.
pub const PER_PAGE: usize = 50;

/// One issued badge, as the stand-in holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub id: String,
    /// `pending`, `accepted`, `rejected` or `revoked`.
    pub state: String,
    pub issued_at_ms: u64,
    pub expires_at_ms: Option<u64>,
    pub recipient_email: String,
    pub template_id: String,
    pub template_name: String,
    /// Milliseconds since the epoch of its last change: what `updated_at_min` and `sort=updated_at` read.
    pub updated_ms: u64,
}

/// One event, as Credly records it.
#[derive(Debug, Clone)]
struct Event {
    id: String,
    event_type: &'static str,
    occurred_ms: u64,
    /// The badge as it was when the event happened (`None` once deleted).
    badge: Option<Badge>,
}

/// What the next requests get instead of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `429` with `Retry-After: seconds`.
    Throttle(u64),
    /// `503`, outside the document.
    Unavailable,
    /// No answer for this long, then the answer.
    Hang(Duration),
}

struct State {
    token: String,
    badges: Vec<Badge>,
    events: Vec<Event>,
    exchanges: Vec<Exchange>,
    faults: Vec<Fault>,
    /// Milliseconds of the stand-in's own clock: each change moves it by at least 1 ms, so changes are ordered.
    clock_ms: u64,
    counter: u64,
}

/// A running stand-in; stopped when dropped.
pub struct CredlyStandin {
    pub url: String,
    pub organization_id: String,
    state: Arc<Mutex<State>>,
    _server: crate::server::Server,
}

impl std::fmt::Debug for CredlyStandin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredlyStandin").field("url", &self.url).field("organization_id", &self.organization_id).finish()
    }
}

/// The state, also after a panic elsewhere (a stand-in keeps answering).
fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A version-4-shaped UUID from a counter (deterministic, distinct).
fn uuid_from(n: u64, salt: u64) -> String {
    let a = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    let b = a.rotate_left(29).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ n;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        0x8000 | ((b >> 48) as u16 & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock_ms = self.clock_ms.max(crate::time::now_ms()) + 1;
        self.clock_ms
    }

    fn next_id(&mut self, salt: u64) -> String {
        self.counter += 1;
        uuid_from(self.counter, salt)
    }

    fn record(&mut self, event_type: &'static str, badge: Option<Badge>) -> String {
        let id = self.next_id(0xE7E7);
        let occurred_ms = self.tick();
        self.events.push(Event { id: id.clone(), event_type, occurred_ms, badge });
        id
    }
}

impl CredlyStandin {
    /// Starts on a free port of 127.0.0.1 for one organization, accepting `token`.
    pub fn start(token: &str) -> std::io::Result<CredlyStandin> {
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            badges: Vec::new(),
            events: Vec::new(),
            exchanges: Vec::new(),
            faults: Vec::new(),
            clock_ms: 0,
            counter: 0,
        }));
        let organization_id = uuid_from(0, 0x0C0C);
        let (shared, org) = (state.clone(), organization_id.clone());
        let server = crate::server::Server::start(move |req| {
            let (state, org) = (shared.clone(), org.clone());
            async move { serve(&state, &org, req).await }
        })?;
        Ok(CredlyStandin { url: server.url(), organization_id, state, _server: server })
    }

    /// Issues a badge of the template `template_name` to `recipient_email`, accepted; answers the badge's id and its
    /// `badge.created` event's id.
    pub fn issue(&self, recipient_email: &str, template_name: &str) -> (String, String) {
        let mut s = lock(&self.state);
        let id = s.next_id(0xBADE);
        let template_id = uuid_from(template_name.bytes().fold(7u64, |h, b| h.wrapping_mul(31) + u64::from(b)), 0x7E);
        let now = s.tick();
        let badge = Badge {
            id: id.clone(),
            state: "accepted".into(),
            issued_at_ms: now,
            expires_at_ms: Some(now + 3 * 365 * 86_400_000),
            recipient_email: recipient_email.to_owned(),
            template_id,
            template_name: template_name.to_owned(),
            updated_ms: now,
        };
        s.badges.push(badge.clone());
        let event = s.record("badge.created", Some(badge));
        (id, event)
    }

    /// Issues `n` badges at once (to `recipient-<i>@<domain>`), for the bounded sync's tests and benchmark.
    pub fn issue_many(&self, n: usize, domain: &str, template_name: &str) {
        for i in 0..n {
            self.issue(&format!("recipient-{i}@{domain}"), template_name);
        }
    }

    /// Issues `n` badges in one instant (one `updated_at` for all, as a bulk issue can), to `bulk-<i>@<domain>`.
    pub fn issue_at_once(&self, n: usize, domain: &str, template_name: &str) {
        let mut s = lock(&self.state);
        let now = s.tick();
        for i in 0..n {
            let id = s.next_id(0xBADE);
            let badge = Badge {
                id: id.clone(),
                state: "accepted".into(),
                issued_at_ms: now,
                expires_at_ms: None,
                recipient_email: format!("bulk-{i}@{domain}"),
                template_id: uuid_from(7, 0x7E),
                template_name: template_name.to_owned(),
                updated_ms: now,
            };
            s.badges.push(badge.clone());
            let id = s.next_id(0xE7E7);
            s.events.push(Event { id, event_type: "badge.created", occurred_ms: now, badge: Some(badge) });
        }
    }

    /// Revokes a badge; answers its `badge.state.changed` event's id, or `None` if there is no such badge.
    pub fn revoke(&self, badge_id: &str) -> Option<String> {
        let mut s = lock(&self.state);
        let now = s.tick();
        let badge = s.badges.iter_mut().find(|b| b.id == badge_id)?;
        badge.state = "revoked".into();
        badge.updated_ms = now;
        let badge = badge.clone();
        Some(s.record("badge.state.changed", Some(badge)))
    }

    /// Deletes a badge (it leaves the listing); answers its `badge.deleted` event's id.
    pub fn delete(&self, badge_id: &str) -> Option<String> {
        let mut s = lock(&self.state);
        let at = s.badges.iter().position(|b| b.id == badge_id)?;
        let mut gone = s.badges.remove(at);
        gone.updated_ms = s.tick();
        Some(s.record("badge.deleted", Some(gone)))
    }

    /// The next `n` requests are answered `429` with `Retry-After: retry_after_s`.
    pub fn throttle_next(&self, n: usize, retry_after_s: u64) {
        lock(&self.state).faults.extend(std::iter::repeat_n(Fault::Throttle(retry_after_s), n));
    }

    /// The next `n` requests are answered `503` (outside the document: Credly declares no such answer).
    pub fn fail_next(&self, n: usize) {
        lock(&self.state).faults.extend(std::iter::repeat_n(Fault::Unavailable, n));
    }

    /// The next `n` requests wait `hang` before they are answered.
    pub fn hang_next(&self, n: usize, hang: Duration) {
        lock(&self.state).faults.extend(std::iter::repeat_n(Fault::Hang(hang), n));
    }

    /// A new token replaces the old one, which is refused from now on (`401`).
    pub fn rotate_token(&self, token: &str) {
        lock(&self.state).token = token.to_owned();
    }

    /// Every badge, as the stand-in holds it.
    pub fn badges(&self) -> Vec<Badge> {
        lock(&self.state).badges.clone()
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.state).exchanges.clone()
    }

    /// A webhook notification's body for an event, as Credly posts it to the organization's `webhook_url`.
    pub fn notification(&self, event_id: &str) -> Option<Value> {
        let s = lock(&self.state);
        let e = s.events.iter().find(|e| e.id == event_id)?;
        Some(json!({
            "id": e.id,
            "organization_id": self.organization_id,
            "event_type": e.event_type,
            "occurred_at": crate::time::rfc3339_ms(e.occurred_ms),
        }))
    }
}

fn badge_json(b: &Badge, org: &str) -> Value {
    json!({
        "id": b.id,
        "state": b.state,
        "issued_at": crate::time::rfc3339_ms(b.issued_at_ms),
        "expires_at": b.expires_at_ms.map(crate::time::rfc3339_ms),
        "recipient_email": b.recipient_email,
        "badge_template": {"id": b.template_id, "name": b.template_name},
        "issuer": {"summary": format!("issued by Credly organization {org}")},
        "badge_url": format!("https://www.credly.com/badges/{}", b.id),
        "updated_at": crate::time::rfc3339_ms(b.updated_ms),
    })
}

/// `updated_at_min::<date or date-time>` of a `filter`, in milliseconds; other keys are ignored.
fn updated_since(filter: &str) -> Result<Option<u64>, String> {
    for condition in filter.split('|').filter(|c| !c.is_empty()) {
        let (key, value) = condition.split_once("::").ok_or_else(|| format!("`{condition}` is not key::value"))?;
        if key == "updated_at_min" {
            let full = if value.len() == 10 { format!("{value}T00:00:00Z") } else { value.to_owned() };
            let secs = crate::time::parse_rfc3339(&full).ok_or_else(|| format!("`{value}` is not a date"))?;
            let millis = full
                .strip_suffix('Z')
                .and_then(|t| t.split_once('.'))
                .and_then(|(_, f)| format!("{f:0<3}")[..3].parse::<u64>().ok())
                .unwrap_or(0);
            return Ok(Some(u64::try_from(secs).unwrap_or(0) * 1000 + millis));
        }
    }
    Ok(None)
}

/// A query parameter, decoded as a form value (`+` a space).
fn query_value(query: &str, name: &str) -> Option<String> {
    crate::http1::query_param(query, name).map(crate::http1::form_decode)
}

fn error(message: &str) -> Value {
    json!({"data": {"message": message}})
}

/// The listing: badges changed at or after `updated_at_min`, sorted by `updated_at` (then id), a page of 50.
fn list(s: &State, org: &str, query: &str) -> (u16, Value) {
    let since = match updated_since(&query_value(query, "filter").unwrap_or_default()) {
        Ok(since) => since,
        Err(message) => return (400, error(&message)),
    };
    let page: usize = match query_value(query, "page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        Some(_) => return (400, error("page is a number from 1")),
    };
    let mut matching: Vec<&Badge> = s.badges.iter().filter(|b| since.is_none_or(|t| b.updated_ms >= t)).collect();
    let descending = query_value(query, "sort").is_some_and(|v| v.starts_with('-'));
    matching.sort_by(|a, b| (a.updated_ms, &a.id).cmp(&(b.updated_ms, &b.id)));
    if descending {
        matching.reverse();
    }
    let total = matching.len();
    let total_pages = total.div_ceil(PER_PAGE);
    let data: Vec<Value> =
        matching.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE).map(|b| badge_json(b, org)).collect();
    let base = format!("/v1/organizations/{org}/badges");
    let link = |p: usize| {
        let mut parts: Vec<String> =
            query.split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("page=")).map(str::to_owned).collect();
        parts.push(format!("page={p}"));
        format!("{base}?{}", parts.join("&"))
    };
    let metadata = json!({
        "count": data.len(),
        "current_page": page,
        "total_count": total,
        "total_pages": total_pages,
        "per": PER_PAGE,
        "previous_page_url": if page > 1 { Value::String(link(page - 1)) } else { Value::Null },
        "next_page_url": if page < total_pages { Value::String(link(page + 1)) } else { Value::Null },
    });
    (200, json!({"data": data, "metadata": metadata}))
}

async fn serve(state: &Arc<Mutex<State>>, org: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let headers = crate::okta::recorded_headers(req.headers(), &["authorization", "content-type"]);
    let _ = req.into_body().collect().await;
    let fault = {
        let mut s = lock(state);
        if s.faults.is_empty() {
            None
        } else {
            Some(s.faults.remove(0))
        }
    };
    if let Some(Fault::Hang(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let expected = {
        use base64::Engine;
        let s = lock(state);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:", s.token)))
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut response_headers = BTreeMap::new();
    let (status, answer, outside): (u16, Value, bool) = match fault {
        Some(Fault::Throttle(seconds)) => {
            response_headers.insert("retry-after".to_owned(), seconds.to_string());
            (429, error("Too many requests"), false)
        }
        Some(Fault::Unavailable) => (503, error("Service unavailable"), true),
        _ if authorization != expected => (401, error("Unauthorized"), false),
        _ => {
            let s = lock(state);
            match (method.as_str(), segments.as_slice()) {
                ("GET", ["v1", "organizations", o, "badges"]) if *o == org => {
                    let (status, answer) = list(&s, org, &query);
                    (status, answer, status != 200)
                }
                ("GET", ["v1", "organizations", o, "events", id]) if *o == org => {
                    match s.events.iter().find(|e| e.id == *id) {
                        Some(e) => {
                            let data = json!({
                                "id": e.id,
                                "organization_id": org,
                                "event_type": e.event_type,
                                "occurred_at": crate::time::rfc3339_ms(e.occurred_ms),
                                "badge": e.badge.as_ref().map(|b| badge_json(b, org)),
                            });
                            (200, json!({ "data": data }), false)
                        }
                        None => (404, error("Not found"), false),
                    }
                }
                // Another organization's events and badges are not this token's: Credly answers as if absent.
                ("GET", ["v1", "organizations", _, "events", _]) => (404, error("Not found"), false),
                _ => (404, error("Not found"), true),
            }
        }
    };
    response_headers.insert("content-type".to_owned(), "application/json".to_owned());
    let exchange = Exchange {
        method,
        path,
        query,
        headers,
        body: None,
        status,
        response_headers: response_headers.clone(),
        response: Some(answer.clone()),
        fault: outside,
    };
    lock(state).exchanges.push(exchange);
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &response_headers {
        if let (Ok(name), Ok(value)) =
            (hyper::header::HeaderName::from_bytes(name.as_bytes()), hyper::header::HeaderValue::from_str(value))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_uuids() {
        let ids: std::collections::BTreeSet<String> = (0..1000).map(|n| uuid_from(n, 1)).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 36 && id.as_bytes()[14] == b'4'));
    }

    #[test]
    fn the_filter_reads_dates_and_date_times() {
        assert_eq!(updated_since("updated_at_min::1970-01-02").unwrap(), Some(86_400_000));
        assert_eq!(updated_since("state::accepted|updated_at_min::1970-01-01T00:00:01.5Z").unwrap(), Some(1_500));
        assert_eq!(updated_since("").unwrap(), None);
        assert!(updated_since("updated_at_min").is_err());
    }

    #[test]
    fn query_values_are_decoded_as_form_values() {
        let query = "page=2&filter=updated_at_min%3A%3A2026-12-08T00%3A00%3A00.000Z&q=a+b%2B";
        assert_eq!(query_value(query, "filter").unwrap(), "updated_at_min::2026-12-08T00:00:00.000Z");
        assert_eq!(query_value(query, "q").unwrap(), "a b+");
        assert_eq!(query_value("x=a%2", "x").unwrap(), "a%2");
        assert_eq!(query_value(query, "sort"), None);
    }
}
