//! Database access through PostgREST, as the caller, so Row-Level Security sees who is asking.
//!
//! One `postgrest` client per container (built once, outside the handler, so its HTTP connections are reused);
//! per request, a [`Session`] carries a JWT minted for this caller (`sub`, `role: authenticated`, `email`,
//! `groups`, `exp` 60 s ahead), signed with the Supabase JWT secret, plus the `apikey` header Supabase expects.
//! The service-role key is never used for a user's request. Errors are mapped from the SQLSTATE in PostgREST's
//! error body (`code`), not from its HTTP status, which differs between PostgREST versions and look-alikes.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use postgrest::{Builder, Postgrest};
use serde::Serialize;
use serde_json::Value;

use crate::{ApiError, Caller};

/// How long a minted token lives. Each request mints its own, so this only bounds replay of a leaked token.
pub const TOKEN_LIFETIME_SECS: u64 = 60;

/// Where PostgREST is and how to sign for it.
#[derive(Clone)]
pub struct DbConfig {
    /// The PostgREST base URL (`https://<project>.supabase.co/rest/v1`, or `http://127.0.0.1:<port>` locally).
    pub rest_url: String,
    /// Sent as the `apikey` header (Supabase's gateway wants it); empty for a bare PostgREST.
    pub anon_key: String,
    /// The secret PostgREST verifies JWTs with.
    pub jwt_secret: String,
}

impl std::fmt::Debug for DbConfig {
    // Secrets never reach a log, not even through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig").field("rest_url", &self.rest_url).finish_non_exhaustive()
    }
}

/// The container-wide client.
pub struct Db {
    client: Postgrest,
    key: EncodingKey,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: &'static str,
    aud: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    groups: &'a [String],
    iat: u64,
    exp: u64,
}

impl Db {
    pub fn new(config: &DbConfig) -> Result<Db, String> {
        if config.jwt_secret.len() < 32 {
            return Err("the Supabase JWT secret must be at least 32 characters".into());
        }
        let mut client = Postgrest::new(config.rest_url.trim_end_matches('/'));
        if !config.anon_key.is_empty() {
            // `insert_header` panics on a value that is not a valid header; check first.
            if reqwest::header::HeaderValue::from_str(&config.anon_key).is_err() {
                return Err("the Supabase anon key is not a valid header value".into());
            }
            client = client.insert_header("apikey", &config.anon_key);
        }
        let key =
            EncodingKey::from_secret(config.jwt_secret.as_bytes()).map_err(|e| format!("unusable JWT secret: {e}"))?;
        Ok(Db { client, key })
    }

    /// A session acting as `caller` for one request.
    pub fn session(&self, caller: &Caller) -> Result<Session<'_>, ApiError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(ApiError::internal)?.as_secs();
        let claims = Claims {
            sub: &caller.sub,
            role: "authenticated",
            aud: "authenticated",
            email: caller.email.as_deref(),
            groups: &caller.groups,
            iat: now,
            exp: now + TOKEN_LIFETIME_SECS,
        };
        let token = jsonwebtoken::encode(&Header::default(), &claims, &self.key)
            .map_err(|e| ApiError::internal(format!("cannot sign the database token: {e}")))?;
        Ok(Session { db: self, token })
    }
}

/// One request's view of the database, as one caller.
#[derive(Debug)]
pub struct Session<'a> {
    db: &'a Db,
    token: String,
}

impl Session<'_> {
    /// A table query builder, authenticated as the caller.
    pub fn from(&self, table: &str) -> Builder {
        self.db.client.from(table).auth(&self.token)
    }

    /// Calls a database function (PostgREST RPC) with named arguments.
    ///
    /// Arguments whose value is `null` are left out: the API functions declare every optional argument
    /// `DEFAULT NULL`, so omitting one means the same to PostgREST, and some PostgREST-compatible servers mis-bind
    /// explicit nulls.
    pub async fn rpc(&self, function: &str, args: &Value) -> Result<Value, ApiError> {
        let args = match args {
            Value::Object(map) => {
                Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            other => other.clone(),
        };
        self.run(self.db.client.rpc(function, args.to_string()).auth(&self.token)).await
    }

    /// Executes a request and returns its JSON (`null` for an empty 2xx body).
    pub async fn run(&self, builder: Builder) -> Result<Value, ApiError> {
        let response =
            builder.execute().await.map_err(|e| ApiError::internal(format!("PostgREST unreachable: {e}")))?;
        let status = response.status().as_u16();
        let text =
            response.text().await.map_err(|e| ApiError::internal(format!("PostgREST response unreadable: {e}")))?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text)
                .map_err(|e| ApiError::internal(format!("PostgREST sent non-JSON: {e}")));
        }
        Err(map_error(status, &text))
    }
}

/// Maps a PostgREST error response to an API error by its SQLSTATE (`code`).
pub fn map_error(status: u16, body: &str) -> ApiError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed.get("code").and_then(Value::as_str).unwrap_or("");
    let message = parsed.get("message").and_then(Value::as_str).unwrap_or("").to_owned();
    match code {
        // unique_violation, and the platform's own "rule conflict" code.
        "23505" | "P0409" => ApiError::Conflict(message),
        // no_data_found, raised by the API functions.
        "P0002" => ApiError::NotFound(message),
        // insufficient_privilege: a role rule in an API function, or RLS refusing a write.
        "42501" => ApiError::Forbidden(message),
        // Bad values the request carried: invalid text (e.g. uuid), check/not-null violations, bad parameter.
        "22P02" | "22023" | "22001" | "23514" | "23502" => ApiError::BadRequest(message),
        // foreign_key_violation: the referenced row is not there.
        "23503" => ApiError::NotFound(message),
        _ => ApiError::Internal(format!("PostgREST answered {status}: {body}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str, message: &str) -> String {
        serde_json::json!({"code": code, "message": message, "details": null, "hint": null}).to_string()
    }

    #[test]
    fn maps_sqlstates_not_http_statuses() {
        assert_eq!(map_error(409, &body("23505", "dup")), ApiError::Conflict("dup".into()));
        assert_eq!(map_error(500, &body("P0409", "last owner")), ApiError::Conflict("last owner".into()));
        assert_eq!(map_error(500, &body("P0002", "gone")), ApiError::NotFound("gone".into()));
        assert_eq!(map_error(401, &body("42501", "no")), ApiError::Forbidden("no".into()));
        assert_eq!(map_error(403, &body("42501", "no")), ApiError::Forbidden("no".into()));
        assert_eq!(map_error(400, &body("22P02", "bad uuid")), ApiError::BadRequest("bad uuid".into()));
        assert!(matches!(map_error(401, &body("PGRST303", "JWT expired")), ApiError::Internal(_)));
        assert!(matches!(map_error(502, "<html>bad gateway</html>"), ApiError::Internal(_)));
    }

    #[test]
    fn tokens_are_short_lived_and_carry_the_caller() {
        let db = Db::new(&DbConfig {
            rest_url: "http://127.0.0.1:1".into(),
            anon_key: "anon".into(),
            jwt_secret: "x".repeat(32),
        })
        .unwrap();
        let caller = Caller { sub: "alice@okta".into(), email: Some("a@x.io".into()), groups: vec!["admin".into()] };
        let session = db.session(&caller).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&["authenticated"]);
        let data = jsonwebtoken::decode::<Value>(
            &session.token,
            &jsonwebtoken::DecodingKey::from_secret("x".repeat(32).as_bytes()).unwrap(),
            &validation,
        )
        .unwrap();
        let c = data.claims;
        assert_eq!(c["sub"], "alice@okta");
        assert_eq!(c["role"], "authenticated");
        assert_eq!(c["groups"], serde_json::json!(["admin"]));
        assert!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap() <= 60);
    }

    #[test]
    fn weak_secret_and_bad_anon_key_are_refused() {
        let cfg = |secret: &str, anon: &str| DbConfig {
            rest_url: "http://127.0.0.1:1".into(),
            anon_key: anon.into(),
            jwt_secret: secret.into(),
        };
        assert!(Db::new(&cfg("short", "")).is_err());
        assert!(Db::new(&cfg(&"x".repeat(32), "bad\nkey")).is_err());
        assert!(!format!("{:?}", cfg(&"s".repeat(40), "k")).contains("sss"));
    }
}
