//! Database access through PostgREST, as the caller: every request carries the caller's own bearer token (the
//! Okta access token the authorizer already verified), which PostgREST verifies again against the identity
//! provider's keys and Row-Level Security reads. This function holds no key that can make a token the database
//! accepts; it sends only the project's publishable key as `apikey`.
//!
//! Requests go through the container's one HTTP client with [`timeouts::DATABASE_REQUEST`] each. Reads (GET) are
//! retried once when the first attempt failed fast (refused, reset, a 503 from the gateway); writes never are,
//! since a write that may have committed must not be sent twice. Errors map from the SQLSTATE or PostgREST code
//! in the error body (`code`), never from the HTTP status alone, which differs between PostgREST and look-alikes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use postgrest::Builder;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::config::DbConfig;
use crate::error::Dependency;
use crate::{timeouts, ApiError};

/// The container-wide database client.
pub struct Db {
    http: reqwest::Client,
    rest_url: String,
    headers: HeaderMap,
    /// Set when Supabase refuses the publishable key (rotated): the container reloads its configuration.
    stale: Arc<AtomicBool>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("rest_url", &self.rest_url).finish_non_exhaustive()
    }
}

impl Db {
    pub fn new(http: reqwest::Client, config: &DbConfig, stale: Arc<AtomicBool>) -> Result<Db, String> {
        let mut headers = HeaderMap::new();
        if !config.anon_key.is_empty() {
            let value = HeaderValue::from_str(&config.anon_key)
                .map_err(|_| "the Supabase publishable key is not a valid header value".to_owned())?;
            headers.insert("apikey", value);
        }
        Ok(Db { http, rest_url: config.rest_url.trim_end_matches('/').to_owned(), headers, stale })
    }

    /// A session acting as the caller whose bearer token this is, for a request that must be answered by
    /// `deadline`.
    pub fn session<'a>(&'a self, token: &'a str, deadline: Instant) -> Session<'a> {
        Session { db: self, token, deadline }
    }
}

/// One request's view of the database, as one caller.
#[derive(Debug)]
pub struct Session<'a> {
    db: &'a Db,
    token: &'a str,
    deadline: Instant,
}

impl Session<'_> {
    /// A table query builder, authenticated as the caller.
    pub fn from(&self, table: &str) -> Builder {
        Builder::new(format!("{}/{table}", self.db.rest_url), None, self.db.headers.clone(), self.db.http.clone())
            .auth(self.token)
    }

    /// Calls a database function that changes data (PostgREST RPC, POST); never retried.
    ///
    /// Arguments whose value is `null` are left out: the API functions declare every optional argument
    /// `DEFAULT NULL`, so omitting one means the same to PostgREST, and some PostgREST-compatible servers mis-bind
    /// explicit nulls.
    pub async fn call(&self, function: &str, args: &Value) -> Result<Value, ApiError> {
        let builder = Builder::new(
            format!("{}/rpc/{function}", self.db.rest_url),
            None,
            self.db.headers.clone(),
            self.db.http.clone(),
        )
        .auth(self.token)
        .rpc(without_nulls(args).to_string());
        self.send(builder.build(), false).await
    }

    /// Calls a read-only (STABLE) database function with GET, so it may be retried.
    pub async fn call_read(&self, function: &str, args: &[(&str, String)]) -> Result<Value, ApiError> {
        let builder = Builder::new(
            format!("{}/rpc/{function}", self.db.rest_url),
            None,
            self.db.headers.clone(),
            self.db.http.clone(),
        )
        .auth(self.token);
        self.send(builder.build().query(args), true).await
    }

    /// Runs a table request: reads (`select`) may be retried once, writes never.
    pub async fn run(&self, builder: Builder) -> Result<Value, ApiError> {
        let request = builder.build();
        let idempotent =
            request.try_clone().and_then(|r| r.build().ok()).is_some_and(|r| r.method() == reqwest::Method::GET);
        self.send(request, idempotent).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, idempotent: bool) -> Result<Value, ApiError> {
        let retry = if idempotent { request.try_clone() } else { None };
        match self.attempt(request).await {
            // A read that failed fast (refused, reset, unavailable) is tried once more, if the deadline allows; a
            // timeout already used the read's bound, and any other answer is final.
            Err(ApiError::Unavailable { .. }) if retry.is_some() => match retry {
                Some(again) => self.attempt(again).await,
                None => Err(ApiError::internal("unreachable: retry without a request")),
            },
            other => other,
        }
    }

    async fn attempt(&self, request: reqwest::RequestBuilder) -> Result<Value, ApiError> {
        let wait = timeouts::bound(timeouts::DATABASE_REQUEST, self.deadline).ok_or_else(|| ApiError::Timeout {
            dependency: Dependency::Database,
            detail: "the request's deadline passed before the database call".into(),
        })?;
        let response = request.timeout(wait).send().await.map_err(|e| ApiError::transport(Dependency::Database, &e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| ApiError::transport(Dependency::Database, &e))?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| ApiError::BadGateway {
                dependency: Dependency::Database,
                detail: format!("PostgREST sent non-JSON with {status}: {e}"),
            });
        }
        if key_refused(status, &text) {
            self.db.stale.store(true, Ordering::SeqCst);
        }
        Err(map_error(status, &text))
    }
}

fn without_nulls(args: &Value) -> Value {
    match args {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

/// Maps a PostgREST error response to an API error by its SQLSTATE or PostgREST code (`code`).
pub fn map_error(status: u16, body: &str) -> ApiError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed.get("code").and_then(Value::as_str).unwrap_or("");
    let message = parsed.get("message").and_then(Value::as_str).unwrap_or("").to_owned();
    let hint = parsed.get("hint").and_then(Value::as_str).unwrap_or("");
    let unavailable = |detail: String| ApiError::Unavailable {
        dependency: Dependency::Database,
        retry_after_s: timeouts::RETRY_AFTER_S,
        detail,
    };
    match code {
        // The API functions' refusals, with the status PostgREST answers them with too (`PTxyz` is status xyz);
        // their messages are written for clients.
        "PT400" => ApiError::BadRequest(message),
        "PT403" => ApiError::Forbidden(message),
        "PT404" => ApiError::NotFound(message),
        "PT409" => ApiError::Conflict(message),
        "PT429" => ApiError::TooManyRequests { message, retry_after_s: hint.parse().unwrap_or(60) },
        // unique_violation outside a function that names the conflict.
        "23505" => ApiError::Conflict("This conflicts with an existing record".into()),
        // foreign_key_violation: the referenced row is not there.
        "23503" => ApiError::NotFound("A referenced record does not exist".into()),
        // insufficient_privilege from PostgreSQL itself (a grant or Row-Level Security refusing the caller): its
        // message names tables and roles, which no client hears.
        "42501" => {
            tracing::warn!(detail = message, "the database refused the caller");
            ApiError::Forbidden("Forbidden".into())
        }
        // Bad values the request carried: invalid text (a uuid), bad parameter, too long, not null.
        "22P02" | "22023" | "22001" | "23502" => ApiError::BadRequest(message),
        // A CHECK or domain rule: the request's own validation states the same rules (one corpus test holds them
        // together), so this is rare; the constraint's name stays in the log.
        "23514" => {
            tracing::warn!(detail = message, "a value passed the API's validation but not the database's");
            ApiError::BadRequest("A value breaks one of the database's rules".into())
        }
        // The token was refused by PostgREST itself: expired while the gateway's decision was cached, or not
        // from the identity provider the database trusts.
        "PGRST301" | "PGRST302" | "PGRST303" => {
            ApiError::Unauthorized("The database refused the token: it expired or is not valid for this API".into())
        }
        // PostgREST cannot reach the database, or its schema cache is not ready: unavailable for now.
        "PGRST000" | "PGRST001" | "PGRST002" => unavailable(format!("PostgREST {code}: {message}")),
        // No pool connection in time, or the statement timeout.
        "PGRST003" | "57014" => {
            ApiError::Timeout { dependency: Dependency::Database, detail: format!("{code}: {message}") }
        }
        c if c.starts_with("08") || c.starts_with("53") => unavailable(format!("SQLSTATE {c}: {message}")),
        // Supabase's gateway refusing the publishable key (no PostgREST code): the key was rotated.
        "" if key_refused(status, body) => {
            unavailable("Supabase refused the publishable key; reloading the configuration".into())
        }
        // The gateway or PostgREST failing without a usable code.
        "" if status == 503 => unavailable(format!("HTTP 503 without a code: {}", truncate(body))),
        "" if status == 504 => {
            ApiError::Timeout { dependency: Dependency::Database, detail: format!("HTTP 504: {}", truncate(body)) }
        }
        _ if status >= 500 => ApiError::BadGateway {
            dependency: Dependency::Database,
            detail: format!("PostgREST answered {status} {code}: {}", truncate(body)),
        },
        // A 4xx we do not expect means our request was wrong: a bug here, not the client's.
        _ => ApiError::Internal(format!("PostgREST answered {status}: {}", truncate(body))),
    }
}

/// Supabase's gateway refusing the publishable key: a 401 without a PostgREST code that names the API key.
fn key_refused(status: u16, body: &str) -> bool {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    status == 401 && parsed.get("code").is_none() && body.contains("API key")
}

fn truncate(body: &str) -> &str {
    match body.char_indices().nth(300) {
        Some((i, _)) => &body[..i],
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, message: &str) -> String {
        serde_json::json!({"code": code, "message": message, "details": null, "hint": null}).to_string()
    }

    #[test]
    fn maps_codes_not_http_statuses() {
        assert_eq!(map_error(409, &body("PT409", "last owner")), ApiError::Conflict("last owner".into()));
        assert_eq!(map_error(500, &body("PT409", "last owner")), ApiError::Conflict("last owner".into()));
        assert_eq!(map_error(404, &body("PT404", "gone")), ApiError::NotFound("gone".into()));
        assert_eq!(map_error(403, &body("PT403", "owners only")), ApiError::Forbidden("owners only".into()));
        let limited = serde_json::json!({"code": "PT429", "message": "slow down", "hint": "42"}).to_string();
        assert_eq!(
            map_error(429, &limited),
            ApiError::TooManyRequests { message: "slow down".into(), retry_after_s: 42 }
        );
        // A refusal by PostgreSQL itself names tables: the client hears only that it was refused.
        assert_eq!(
            map_error(401, &body("42501", "permission denied for table org")),
            ApiError::Forbidden("Forbidden".into())
        );
        assert_eq!(
            map_error(403, &body("42501", "permission denied for table org")),
            ApiError::Forbidden("Forbidden".into())
        );
        assert_eq!(
            map_error(409, &body("23505", "duplicate key value violates unique constraint \"x\"")).status(),
            409
        );
        assert_eq!(map_error(400, &body("22P02", "bad uuid")), ApiError::BadRequest("bad uuid".into()));
        assert_eq!(map_error(401, &body("PGRST301", "JWSError")).status(), 401);
        assert_eq!(map_error(401, &body("PGRST303", "JWT expired")).status(), 401);
    }

    #[test]
    fn dependency_failures_are_502_503_504() {
        assert_eq!(map_error(503, &body("PGRST001", "no connection")).status(), 503);
        assert_eq!(map_error(504, &body("PGRST003", "pool timeout")).status(), 504);
        assert_eq!(map_error(500, &body("57014", "canceling statement due to statement timeout")).status(), 504);
        assert_eq!(map_error(503, &body("53300", "too many connections")).status(), 503);
        assert_eq!(map_error(502, "<html>bad gateway</html>").status(), 502);
        assert_eq!(map_error(503, "upstream connect error").status(), 503);
        assert_eq!(map_error(500, &body("XX000", "internal")).status(), 502);
        assert_eq!(map_error(401, r#"{"message":"Invalid API key"}"#).status(), 503);
        // Our own bad request is our bug: 500.
        assert_eq!(map_error(400, &body("PGRST100", "parse error")).status(), 500);
    }
}
