//! Credly's web service API, the part cert-module uses: an organization's issued badges changed since a time, a page
//! of 50 at a time (`filter=updated_at_min::…`, `sort=updated_at`, `page`), and one event by the id a webhook carried.
//! Requests follow the document written from Credly's published pages (`xtask/contracts/credly-api.yaml`, against
//! which the contract check holds every exchange with the stand-in).
//!
//! HTTP Basic with the organization's token as the user name and an empty password. The token comes from a
//! [`TokenSource`] (Secrets Manager in a function, cached there): when Credly answers `401`, the token is read again,
//! once, and the request repeated (a rotated token). Each request is bounded by [`timeouts::CREDLY_REQUEST`] and the
//! caller's deadline. Failures: Credly unreachable → 503, too slow → 504, 5xx or an answer this client cannot read →
//! 502, a token refused twice → 502 naming the token; `429` is [`CredlyError::Throttled`] with its `Retry-After`, so a
//! sync can wait when the wait fits its run and stop (to resume where it stopped) when it does not.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Dependency;
use crate::{timeouts, ApiError};

/// Credly's page size for listings.
pub const PER_PAGE: usize = 50;

/// Where the organization's token comes from.
pub trait TokenSource: Send + Sync {
    /// The token; `refresh` when Credly refused the one read before (read it again, past any cache).
    fn token(&self, refresh: bool) -> Pin<Box<dyn Future<Output = Result<String, ApiError>> + Send + '_>>;
}

/// A token given once (tests, the local API).
#[derive(Clone)]
pub struct FixedToken(pub String);

impl TokenSource for FixedToken {
    fn token(&self, _refresh: bool) -> Pin<Box<dyn Future<Output = Result<String, ApiError>> + Send + '_>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}

impl std::fmt::Debug for FixedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedToken(..)")
    }
}

/// The template a badge was issued from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BadgeTemplate {
    pub id: String,
    pub name: String,
}

/// Who issued a badge, as Credly shows it (`issued by …`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Issuer {
    pub summary: String,
}

/// One issued badge: the fields cert-module keeps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IssuedBadge {
    pub id: String,
    /// `pending`, `accepted`, `rejected` or `revoked`.
    pub state: String,
    pub issued_at: String,
    pub expires_at: Option<String>,
    pub recipient_email: String,
    pub badge_template: BadgeTemplate,
    pub issuer: Issuer,
    pub badge_url: String,
    pub updated_at: String,
}

/// A listing's `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Metadata {
    current_page: u32,
    total_pages: u32,
    next_page_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Listing {
    data: Vec<IssuedBadge>,
    metadata: Metadata,
}

/// One page of badges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub badges: Vec<IssuedBadge>,
    pub page: u32,
    pub total_pages: u32,
    /// Whether a next page exists.
    pub more: bool,
}

/// Where a pass over the organization's badges stands: the badges changed at or after `since` (every badge when
/// `None`), from the `page`-th page of those. Keyset over `updated_at`, the page counted within one timestamp
/// ([`Cursor::after`]): page numbers over a fixed `since` would lose a badge whenever another badge, already read,
/// changes during the pass (it moves to the end of the order, and the first badge of the next page shifts into a page
/// already read; `module-runtime/tests/credly.rs` shows both).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Cursor {
    pub since: Option<String>,
    pub page: u32,
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor { since: None, page: 1 }
    }
}

impl Cursor {
    /// The cursor after `page`, read at this cursor, was stored; and whether the pass goes on. When the page's last
    /// badge is newer than the cursor, the cursor moves to that badge's `updated_at`, page 1 (the badges of exactly
    /// that time are read again: storing is idempotent); when every badge of the page has the cursor's time, the page
    /// number advances within it (more than a page of badges changed at one instant). A badge that changes during the
    /// pass only moves later than the cursor, so it is read when the pass reaches it.
    pub fn after(&self, page: &Page) -> (Cursor, bool) {
        let Some(last) = page.badges.last().map(|b| b.updated_at.clone()) else {
            return (Cursor { since: self.since.clone(), page: 1 }, false);
        };
        let next = match self.since.as_deref() == Some(last.as_str()) {
            true => Cursor { since: self.since.clone(), page: self.page + 1 },
            false => Cursor { since: Some(last), page: 1 },
        };
        (next, page.more)
    }
}

/// One event, as fetched back by its id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub id: String,
    pub organization_id: String,
    pub event_type: String,
    pub occurred_at: String,
    /// The badge the event is about, as it was then (`None` when Credly sends none).
    #[serde(default)]
    pub badge: Option<IssuedBadge>,
}

#[derive(Debug, Deserialize)]
struct EventEnvelope {
    data: Event,
}

/// What a call can end in besides its answer.
#[derive(Debug)]
pub enum CredlyError {
    /// `429`: wait this long before the next request.
    Throttled { retry_after: Duration },
    /// Anything else, as the platform answers it (502, 503, 504).
    Failed(ApiError),
}

impl From<ApiError> for CredlyError {
    fn from(e: ApiError) -> Self {
        CredlyError::Failed(e)
    }
}

impl From<CredlyError> for ApiError {
    fn from(e: CredlyError) -> Self {
        match e {
            CredlyError::Throttled { retry_after } => ApiError::Unavailable {
                dependency: Dependency::Credly,
                retry_after_s: retry_after.as_secs().max(1),
                detail: "Credly throttled the request (429)".into(),
            },
            CredlyError::Failed(e) => e,
        }
    }
}

/// The client: one per container, on the function's one HTTP stack.
#[derive(Clone)]
pub struct Credly {
    http: reqwest::Client,
    /// `https://api.credly.com/v1` (or the sandbox's, or a stand-in's), without a trailing slash.
    base_url: String,
    organization_id: String,
    token: Arc<dyn TokenSource>,
}

impl std::fmt::Debug for Credly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credly")
            .field("base_url", &self.base_url)
            .field("organization_id", &self.organization_id)
            .finish()
    }
}

/// `Retry-After` in seconds; the platform's default when absent or not a number of seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let seconds = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(timeouts::RETRY_AFTER_S);
    Duration::from_secs(seconds)
}

fn unreadable(what: &str, e: impl std::fmt::Display) -> CredlyError {
    CredlyError::Failed(ApiError::BadGateway {
        dependency: Dependency::Credly,
        detail: format!("Credly sent {what} this client cannot read: {e}"),
    })
}

impl Credly {
    pub fn new(http: reqwest::Client, base_url: &str, organization_id: &str, token: Arc<dyn TokenSource>) -> Credly {
        Credly {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            organization_id: organization_id.to_owned(),
            token,
        }
    }

    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// `GET <path>?<query>`, authenticated, bounded; the token read again once when refused.
    async fn get(&self, path: &str, query: &[(&str, String)], deadline: Instant) -> Result<(u16, Value), CredlyError> {
        let mut refresh = false;
        loop {
            let token = self.token.token(refresh).await?;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{token}:"));
            let wait = timeouts::bound(timeouts::CREDLY_REQUEST, deadline).ok_or_else(|| ApiError::Timeout {
                dependency: Dependency::Credly,
                detail: "the deadline passed before the Credly call".into(),
            })?;
            let response = self
                .http
                .get(format!("{}{path}", self.base_url))
                .query(query)
                .header(AUTHORIZATION, format!("Basic {basic}"))
                .header(ACCEPT, "application/json")
                .timeout(wait)
                .send()
                .await
                .map_err(|e| ApiError::transport(Dependency::Credly, &e))?;
            let status = response.status().as_u16();
            match status {
                401 if !refresh => {
                    refresh = true;
                    continue;
                }
                401 => {
                    return Err(CredlyError::Failed(ApiError::BadGateway {
                        dependency: Dependency::Credly,
                        detail: "Credly refused the organization's token, also after reading it again; put the \
                                 current token in the secret"
                            .into(),
                    }))
                }
                429 => return Err(CredlyError::Throttled { retry_after: retry_after(response.headers()) }),
                500..=599 => {
                    return Err(CredlyError::Failed(ApiError::BadGateway {
                        dependency: Dependency::Credly,
                        detail: format!("Credly answered {status}"),
                    }))
                }
                _ => {}
            }
            let text = response.text().await.map_err(|e| ApiError::transport(Dependency::Credly, &e))?;
            let body = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Ok((status, body));
        }
    }

    /// The page a [`Cursor`] stands at.
    pub async fn badges_at(&self, cursor: &Cursor, deadline: Instant) -> Result<Page, CredlyError> {
        self.badges(cursor.since.as_deref(), cursor.page, deadline).await
    }

    /// One page (from 1) of the organization's badges changed at or after `since` (RFC 3339; every badge when
    /// `None`), oldest change first.
    pub async fn badges(&self, since: Option<&str>, page: u32, deadline: Instant) -> Result<Page, CredlyError> {
        let mut query = vec![("sort", "updated_at".to_owned()), ("page", page.to_string())];
        if let Some(since) = since {
            query.push(("filter", format!("updated_at_min::{since}")));
        }
        let path = format!("/organizations/{}/badges", self.organization_id);
        let (status, body) = self.get(&path, &query, deadline).await?;
        if status != 200 {
            return Err(unreadable(&format!("a {status} answer to the badge listing"), body));
        }
        let listing: Listing = serde_json::from_value(body).map_err(|e| unreadable("a badge listing", e))?;
        Ok(Page {
            more: listing.metadata.next_page_url.is_some(),
            page: listing.metadata.current_page,
            total_pages: listing.metadata.total_pages,
            badges: listing.data,
        })
    }

    /// The organization's event `id`; `None` when Credly has no such event for this organization (forged, or
    /// another organization's).
    pub async fn event(&self, id: &str, deadline: Instant) -> Result<Option<Event>, CredlyError> {
        let path = format!("/organizations/{}/events/{id}", self.organization_id);
        let (status, body) = self.get(&path, &[], deadline).await?;
        match status {
            200 => {
                let envelope: EventEnvelope = serde_json::from_value(body).map_err(|e| unreadable("an event", e))?;
                // An event of another organization is not this organization's, whatever Credly's answer holds.
                Ok(Some(envelope.data).filter(|e| e.organization_id == self.organization_id))
            }
            404 => Ok(None),
            _ => Err(unreadable(&format!("a {status} answer to an event"), body)),
        }
    }
}
