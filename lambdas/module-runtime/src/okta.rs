//! Okta's Users API, the subset provisioning and reconciliation need: create a user, read one by id or login, search
//! (reconciliation: who was deactivated or suspended since), and the lifecycle (deactivate, activate, reactivate). Requests follow Okta's published Management API (the copy in
//! `xtask/contracts/okta-users-api.yaml`, against which a test checks every request this client sends).
//!
//! One client per container, on the function's one HTTP stack, `Authorization: SSWS <token>`, each request bounded
//! by the configured timeout. Failures map to statuses a client can act on: Okta unreachable → 503, too slow →
//! 504, 429 → 503 with `Retry-After` from `X-Rate-Limit-Reset`, 5xx → 502, a validation error → 400 carrying
//! Okta's `errorSummary` and `errorCauses`. A refused API token marks the configuration stale, so a rotated token
//! is read again. Neither the token nor whole profiles are ever logged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::OktaConfig;
use crate::error::Dependency;
use crate::{timeouts, ApiError};

/// An Okta user, as much of it as the platform reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    /// Okta's user id (`00u…`): lifecycle operations address the user by it.
    pub id: String,
    /// `STAGED`, `PROVISIONED`, `ACTIVE`, `DEPROVISIONED`, …
    pub status: String,
    pub profile: Profile,
}

/// The profile properties the platform writes and reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub login: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// The subject of a user's access tokens. Okta's default authorization server puts the user's *login* in the
/// access token's `sub` (not the `00u…` id, which goes to `uid`), so that is what identities record and what Row-
/// Level Security compares with. A custom authorization server must keep that default (docs/deploying.md).
pub fn subject_of(user: &User) -> &str {
    &user.profile.login
}

/// A user as a search returns it, with when its status last changed (`statusChanged`, Okta's timestamp text with
/// milliseconds: `2026-12-06T10:00:00.123Z`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub status_changed: Option<String>,
    pub profile: Profile,
}

/// One page of a search, and the cursor of the next one (from the `Link` header's `rel="next"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub users: Vec<StatusChange>,
    pub next: Option<String>,
}

/// The `after` cursor of a `Link` header's `rel="next"` entry.
pub fn next_cursor(link: &str) -> Option<String> {
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let url = part.split('<').nth(1)?.split('>').next()?;
        let query = url.split_once('?')?.1;
        query.split('&').find_map(|kv| kv.strip_prefix("after=")).map(str::to_owned)
    })
}

/// What creating a user can lead to besides success.
#[derive(Debug)]
pub enum CreateError {
    /// A user with this login already exists (Okta's E0000001 on `login`): look it up and link it.
    LoginTaken,
    Other(ApiError),
}

/// Okta's error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OktaError {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_summary: String,
    #[serde(default)]
    error_causes: Vec<Cause>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cause {
    #[serde(default)]
    error_summary: String,
}

/// The container-wide Okta client.
pub struct Okta {
    http: reqwest::Client,
    base_url: String,
    authorization: HeaderValue,
    timeout: std::time::Duration,
    stale: Arc<AtomicBool>,
}

// Requests are made through [`Okta::session`].

impl std::fmt::Debug for Okta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Okta").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl Okta {
    pub fn new(http: reqwest::Client, config: &OktaConfig, stale: Arc<AtomicBool>) -> Result<Okta, String> {
        let mut authorization = HeaderValue::from_str(&format!("SSWS {}", config.token))
            .map_err(|_| "the Okta API token is not a valid header value".to_owned())?;
        authorization.set_sensitive(true);
        Ok(Okta {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            authorization,
            timeout: config.timeout,
            stale,
        })
    }

    /// Calls for one request, which must be answered by `deadline`.
    pub fn session(&self, deadline: Instant) -> OktaSession<'_> {
        OktaSession { okta: self, deadline }
    }
}

/// One request's calls to Okta, each bounded by the configured timeout and the request's deadline.
#[derive(Debug)]
pub struct OktaSession<'a> {
    okta: &'a Okta,
    deadline: Instant,
}

impl OktaSession<'_> {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.okta
            .http
            .request(method, format!("{}{path}", self.okta.base_url))
            .header(AUTHORIZATION, self.okta.authorization.clone())
            .header(ACCEPT, "application/json")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value, Option<u64>), ApiError> {
        self.send_paged(request).await.map(|(status, body, reset, _)| (status, body, reset))
    }

    async fn send_paged(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Value, Option<u64>, Option<String>), ApiError> {
        let wait = timeouts::bound(self.okta.timeout, self.deadline).ok_or_else(|| ApiError::Timeout {
            dependency: Dependency::IdentityProvider,
            detail: "the request's deadline passed before the Okta call".into(),
        })?;
        let response =
            request.timeout(wait).send().await.map_err(|e| ApiError::transport(Dependency::IdentityProvider, &e))?;
        let status = response.status().as_u16();
        let reset = response
            .headers()
            .get("x-rate-limit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let next = response.headers().get_all("link").iter().filter_map(|v| v.to_str().ok()).find_map(next_cursor);
        let text = response.text().await.map_err(|e| ApiError::transport(Dependency::IdentityProvider, &e))?;
        let body =
            if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        Ok((status, body, reset, next))
    }

    /// `GET /api/v1/users?search=…&sortBy=…&sortOrder=asc&limit=…[&after=…]`: one page of users matching a search
    /// expression, in `sort_by` order (Okta orders equal values by id).
    pub async fn search(
        &self,
        expression: &str,
        sort_by: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page, ApiError> {
        let mut query = vec![
            ("search", expression.to_owned()),
            ("sortBy", sort_by.to_owned()),
            ("sortOrder", "asc".to_owned()),
            ("limit", limit.to_string()),
        ];
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        let request = self.request(reqwest::Method::GET, "/api/v1/users").query(&query);
        let (status, body, reset, next) = self.send_paged(request).await?;
        if status != 200 {
            return Err(self.failure(status, &body, reset));
        }
        let users = serde_json::from_value(body).map_err(|e| ApiError::BadGateway {
            dependency: Dependency::IdentityProvider,
            detail: format!("Okta sent a user list this client cannot read: {e}"),
        })?;
        Ok(Page { users, next })
    }

    /// `POST /api/v1/users?activate=…` with the profile (no credentials: Okta's activation e-mail lets the user set
    /// them). Okta answers 200 with the user.
    pub async fn create_user(&self, profile: &Profile, activate: bool) -> Result<User, CreateError> {
        let request = self
            .request(reqwest::Method::POST, &format!("/api/v1/users?activate={activate}"))
            .header(CONTENT_TYPE, "application/json")
            .body(json!({ "profile": profile }).to_string());
        let (status, body, reset) = self.send(request).await.map_err(CreateError::Other)?;
        if status == 200 {
            return parse_user(body).map_err(CreateError::Other);
        }
        let error: OktaError = serde_json::from_value(body.clone()).unwrap_or_default();
        let login_taken = status == 400
            && error.error_code == "E0000001"
            && error
                .error_causes
                .iter()
                .any(|c| c.error_summary.starts_with("login:") && c.error_summary.contains("already exists"));
        if login_taken {
            return Err(CreateError::LoginTaken);
        }
        Err(CreateError::Other(self.failure(status, &body, reset)))
    }

    /// `GET /api/v1/users/{id or login}`; `None` when Okta has no such user (404).
    pub async fn get_user(&self, id_or_login: &str) -> Result<Option<User>, ApiError> {
        let path = format!("/api/v1/users/{}", encode_segment(id_or_login));
        let (status, body, reset) = self.send(self.request(reqwest::Method::GET, &path)).await?;
        match status {
            200 => parse_user(body).map(Some),
            404 => Ok(None),
            _ => Err(self.failure(status, &body, reset)),
        }
    }

    /// Deactivates a user unless they already are (Okta documents deactivation for users that are not
    /// `DEPROVISIONED`), so a retried request completes instead of failing.
    pub async fn deactivate(&self, id: &str) -> Result<(), ApiError> {
        let user = self.get_user(id).await?.ok_or_else(|| gone(id))?;
        if user.status == "DEPROVISIONED" {
            return Ok(());
        }
        self.lifecycle(id, "deactivate", "").await
    }

    /// Brings a user back: `activate` for `DEPROVISIONED` and `STAGED` users (Okta sends the activation e-mail),
    /// nothing for users that are already provisioned or active.
    pub async fn restore(&self, user: &User) -> Result<(), ApiError> {
        match user.status.as_str() {
            "DEPROVISIONED" | "STAGED" => self.lifecycle(&user.id, "activate", "?sendEmail=true").await,
            _ => Ok(()),
        }
    }

    /// `POST /api/v1/users/{id}/lifecycle/{operation}`.
    async fn lifecycle(&self, id: &str, operation: &str, query: &str) -> Result<(), ApiError> {
        let path = format!("/api/v1/users/{}/lifecycle/{operation}{query}", encode_segment(id));
        let (status, body, reset) = self.send(self.request(reqwest::Method::POST, &path)).await?;
        match status {
            200 => Ok(()),
            404 => Err(gone(id)),
            _ => Err(self.failure(status, &body, reset)),
        }
    }

    /// An Okta error answer as the API answers it.
    fn failure(&self, status: u16, body: &Value, reset: Option<u64>) -> ApiError {
        self.okta.failure(status, body, reset)
    }
}

impl Okta {
    fn failure(&self, status: u16, body: &Value, reset: Option<u64>) -> ApiError {
        let error: OktaError = serde_json::from_value(body.clone()).unwrap_or_default();
        let detail = format!("Okta {status} {}: {}", error.error_code, error.error_summary);
        match status {
            400 => {
                let causes: Vec<&str> = error.error_causes.iter().map(|c| c.error_summary.as_str()).collect();
                let mut message = format!("Okta refused the request: {}", error.error_summary);
                if !causes.is_empty() {
                    message.push_str(&format!(" ({})", causes.join("; ")));
                }
                ApiError::BadRequest(message)
            }
            401 => {
                // The API token was revoked or rotated: read the secret again on the next request.
                self.stale.store(true, Ordering::SeqCst);
                ApiError::Unavailable { dependency: Dependency::IdentityProvider, retry_after_s: 1, detail }
            }
            429 => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let retry_after_s = reset.map(|r| r.saturating_sub(now).max(1)).unwrap_or(timeouts::RETRY_AFTER_S);
                ApiError::Unavailable { dependency: Dependency::IdentityProvider, retry_after_s, detail }
            }
            _ => ApiError::BadGateway { dependency: Dependency::IdentityProvider, detail },
        }
    }
}

fn parse_user(body: Value) -> Result<User, ApiError> {
    serde_json::from_value(body).map_err(|e| ApiError::BadGateway {
        dependency: Dependency::IdentityProvider,
        detail: format!("Okta sent a user this client cannot read: {e}"),
    })
}

fn gone(id: &str) -> ApiError {
    ApiError::Conflict(format!("the identity's Okta user {id} no longer exists in Okta"))
}

/// Percent-encodes a path segment (logins carry `@` and `+`; Okta asks for URL-encoded logins).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_the_login() {
        let user: User = serde_json::from_value(json!({
            "id": "00ub0oNGTSWTBKOLGLNR", "status": "ACTIVE",
            "profile": {"login": "isaac.brock@example.com", "email": "isaac@example.org", "firstName": "Isaac"}
        }))
        .unwrap();
        assert_eq!(subject_of(&user), "isaac.brock@example.com");
    }

    #[test]
    fn the_next_page_cursor_comes_from_the_link_header() {
        let link = r#"<https://x.okta.com/api/v1/users?limit=200>; rel="self", <https://x.okta.com/api/v1/users?after=00u5&limit=200>; rel="next""#;
        assert_eq!(next_cursor(link).as_deref(), Some("00u5"));
        assert_eq!(next_cursor(r#"<https://x.okta.com/api/v1/users?limit=200>; rel="self""#), None);
    }

    #[test]
    fn logins_are_encoded_as_one_segment() {
        assert_eq!(encode_segment("a+b@example.com"), "a%2Bb%40example.com");
        assert_eq!(encode_segment("00u1/../x"), "00u1%2F..%2Fx");
    }
}
