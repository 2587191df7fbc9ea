//! The API Gateway HTTP API Lambda authorizer (payload format 2.0, simple responses): verifies the caller's
//! `Authorization: Bearer <JWT>` against the issuer's JWKS and answers `isAuthorized` with the caller's
//! `{sub, email, groups}` as context. Events and answers are `aws_lambda_events`' types.
//!
//! Rules: RS256 only, key chosen by `kid`; `iss`, `aud` (the environment's own audience), `exp`, `sub` required;
//! `nbf` and `iat` checked with a small leeway. The scheme `Bearer` is matched case-insensitively (RFC 7235) and
//! must be followed by exactly one space; a header over 8 KiB is refused unread. A token whose `sub`, `email` or
//! `groups` hold a control character is refused. `groups` counts only as a JSON array of strings (anything else
//! is ignored) and travels as a JSON-encoded array in a string, because authorizer context values are scalars.
//! The context is the same for every route, because API Gateway caches one decision per Authorization header.
//!
//! JWKS are fetched by this crate (jsonwebtoken parses them but does not fetch or cache) and cached per container.
//! An unknown `kid` triggers at most one fetch per minute; after a failed fetch, new fetches back off for a few
//! seconds; and keys already cached keep verifying whatever a refresh does, until a successful fetch replaces
//! them. It never logs a token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod crypto;

pub mod logging {
    //! JSON log lines to stdout, like the module functions (`level`, `message`, `reason`, `route`, `request_id`).

    /// Installs the subscriber; `LOG_LEVEL` as for the module functions (default INFO).
    pub fn init() {
        let level = match std::env::var("LOG_LEVEL").unwrap_or_default().to_ascii_uppercase().as_str() {
            "DEBUG" => tracing::Level::DEBUG,
            "WARNING" | "WARN" => tracing::Level::WARN,
            "ERROR" => tracing::Level::ERROR,
            _ => tracing::Level::INFO,
        };
        let _ = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_max_level(level)
            .try_init();
    }
}

/// Authorization headers longer than this are refused without parsing.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// One JWKS fetch, connect to last byte. Okta serves its keys from a CDN in milliseconds; API Gateway gives an
/// authorizer 10 s, and a request that waits on keys waits for this, so 3 s.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Connecting to the JWKS host.
pub const JWKS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a request was denied; logged, never returned to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Deny {
    #[error("no Authorization header")]
    MissingHeader,
    #[error("Authorization header over {MAX_HEADER_BYTES} bytes")]
    TooLarge,
    #[error("Authorization header is not `Bearer <token>`")]
    NotBearer,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm {0} is not accepted (RS256 only)")]
    Algorithm(String),
    #[error("token header has no kid")]
    NoKid,
    #[error("no key with kid {0} in the issuer's JWKS")]
    UnknownKid(String),
    #[error("JWKS unavailable: {0}")]
    Jwks(String),
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("token has no sub")]
    MissingSub,
    #[error("token issued in the future")]
    IssuedInFuture,
    #[error("claim {0} holds a control character")]
    ControlCharacter(&'static str),
}

/// The verified caller, as the handlers receive it in `requestContext.authorizer.lambda`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// The authorizer's context: what API Gateway passes to the handlers. Empty fields are left out, so a denial's
/// context is `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// A JSON-encoded array of strings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub groups: String,
}

/// The answer API Gateway reads.
pub type Response = ApiGatewayV2CustomAuthorizerSimpleResponse<Context>;

/// What the authorizer trusts.
#[derive(Debug, Clone)]
pub struct Config {
    /// The exact `iss` expected (Okta: `https://<org>.okta.com/oauth2/<server>`).
    pub issuer: String,
    /// The `aud` expected: the environment's own audience, so another environment's token is refused.
    pub audience: String,
    /// Where the keys are (Okta: `<issuer>/v1/keys`).
    pub jwks_url: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The shortest time between two JWKS fetches caused by unknown `kid`s.
    pub min_refresh_interval: Duration,
    /// How long new fetches wait after a failed one.
    pub failure_backoff: Duration,
    /// How long fetched keys are trusted before a refresh is attempted (drops retired keys). A failed refresh
    /// keeps the cached keys.
    pub max_key_age: Duration,
}

impl Config {
    /// Reads `OKTA_ISSUER`, `OKTA_AUDIENCE` and optionally `OKTA_JWKS_URL` (default `<issuer>/v1/keys`).
    pub fn from_env() -> Result<Config, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let issuer = var("OKTA_ISSUER").ok_or("OKTA_ISSUER is not set")?;
        let audience = var("OKTA_AUDIENCE").ok_or("OKTA_AUDIENCE is not set")?;
        let jwks_url = var("OKTA_JWKS_URL").unwrap_or_else(|| format!("{}/v1/keys", issuer.trim_end_matches('/')));
        Ok(Config::new(issuer, audience, jwks_url))
    }

    /// A configuration with the production defaults (30 s leeway, one refresh a minute, 5 s back-off, 1 h keys).
    pub fn new(issuer: String, audience: String, jwks_url: String) -> Config {
        Config {
            issuer,
            audience,
            jwks_url,
            leeway: Duration::from_secs(30),
            min_refresh_interval: Duration::from_secs(60),
            failure_backoff: Duration::from_secs(5),
            max_key_age: Duration::from_secs(3600),
        }
    }
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_failure: Option<(Instant, String)>,
}

/// The authorizer: configuration, an HTTP client and the JWKS cache, built once per container.
pub struct Authorizer {
    config: Config,
    http: reqwest::Client,
    cache: Mutex<Cache>,
    /// Held while a JWKS fetch is decided and made: concurrent requests that miss the cache wait for that fetch's
    /// result instead of being denied as "too soon" (one Lambda container serves one request at a time, but the
    /// local API shares one authorizer between connections).
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    email: Option<String>,
    #[serde(default)]
    groups: Option<Value>,
    iat: Option<i64>,
}

impl Authorizer {
    /// The authorizer with its HTTP client (`EXTRA_CA_CERTS` adds trust roots, for local TLS stand-ins only).
    pub fn new(config: Config) -> Result<Authorizer, String> {
        // RS256 through ring; in a process that already chose another provider, that one (same rules for RS256).
        let _ = crypto::install();
        let mut builder = reqwest::Client::builder().connect_timeout(JWKS_CONNECT_TIMEOUT).timeout(JWKS_FETCH_TIMEOUT);
        if let Some(path) = std::env::var_os("EXTRA_CA_CERTS").filter(|p| !p.is_empty()) {
            let pem = std::fs::read(&path).map_err(|e| format!("cannot read EXTRA_CA_CERTS: {e}"))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| format!("EXTRA_CA_CERTS: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Authorizer { config, http, cache: Mutex::new(Cache::default()), fetching: tokio::sync::Mutex::new(()) })
    }

    /// Handles one authorizer event (payload 2.0) and returns the simple response.
    pub async fn handle(&self, event: &ApiGatewayV2CustomAuthorizerV2Request) -> Response {
        let header = event
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .or_else(|| event.identity_source.as_ref().and_then(|s| s.first()).map(String::as_str));
        let route = event.route_key.as_deref().unwrap_or_default();
        let request_id = event.request_context.request_id.as_deref().unwrap_or_default();
        match self.authorize(header).await {
            Ok(identity) => {
                tracing::info!(request_id, route, sub = identity.sub, "authorized");
                response(Some(&identity))
            }
            Err(reason) => {
                tracing::warn!(request_id, route, reason = %reason, "denied");
                response(None)
            }
        }
    }

    /// Verifies an Authorization header value.
    pub async fn authorize(&self, header: Option<&str>) -> Result<Identity, Deny> {
        let header = header.ok_or(Deny::MissingHeader)?;
        if header.len() > MAX_HEADER_BYTES {
            return Err(Deny::TooLarge);
        }
        let token = match header.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ') =>
            {
                token
            }
            _ => return Err(Deny::NotBearer),
        };
        if token.split('.').count() != 3 {
            return Err(Deny::Malformed("a JWT has three segments".into()));
        }
        let head = jsonwebtoken::decode_header(token).map_err(|e| Deny::Malformed(e.to_string()))?;
        if head.alg != Algorithm::RS256 {
            return Err(Deny::Algorithm(format!("{:?}", head.alg)));
        }
        let kid = head.kid.ok_or(Deny::NoKid)?;
        let key = self.key(&kid).await?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        // jsonwebtoken's defaults accept tokens without iss/aud and ignore nbf: require and check all of them.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| Deny::Invalid(e.to_string()))?;
        let claims = data.claims;

        let sub = claims.sub.filter(|s| !s.trim().is_empty()).ok_or(Deny::MissingSub)?;
        if sub.chars().any(char::is_control) {
            return Err(Deny::ControlCharacter("sub"));
        }
        if claims.email.as_deref().is_some_and(|e| e.chars().any(char::is_control)) {
            return Err(Deny::ControlCharacter("email"));
        }
        if let Some(iat) = claims.iat {
            if iat > now_secs() + self.config.leeway.as_secs() as i64 {
                return Err(Deny::IssuedInFuture);
            }
        }
        let groups = groups(claims.groups)?;
        Ok(Identity { sub, email: claims.email, groups })
    }

    /// The key for `kid`: from the cache when fresh; otherwise a fetch (rate-limited and backed off after a
    /// failure), falling back to the cached key whenever the fetch cannot be made or fails.
    async fn key(&self, kid: &str) -> Result<DecodingKey, Deny> {
        if let Some(key) = self.fresh_key(kid)? {
            return Ok(key);
        }
        let _one_fetch_at_a_time = self.fetching.lock().await;
        let now = Instant::now();
        let cached = {
            let cache = self.cache.lock().map_err(|_| Deny::Jwks("cache lock poisoned".into()))?;
            let cached = cache.keys.get(kid).cloned();
            let fresh = cache.fetched_at.is_some_and(|t| now.duration_since(t) < self.config.max_key_age);
            if let (Some(key), true) = (&cached, fresh) {
                return Ok(key.clone());
            }
            // A fetch is due (unknown kid, or keys past their age). Back-off and rate limit apply to fetching only:
            // a key in the cache still verifies meanwhile.
            let backing_off = cache
                .last_failure
                .as_ref()
                .is_some_and(|(at, _)| now.duration_since(*at) < self.config.failure_backoff);
            // Unknown kids refresh at most once per interval after a successful fetch; after a failed one, the
            // back-off alone decides (a cold start whose first fetch failed must not wait a whole interval).
            let too_soon = cached.is_none()
                && cache.last_failure.is_none()
                && cache.last_attempt.is_some_and(|t| now.duration_since(t) < self.config.min_refresh_interval);
            if backing_off || too_soon {
                return match (cached, &cache.last_failure) {
                    (Some(key), _) => Ok(key),
                    (None, Some((_, why))) if backing_off => Err(Deny::Jwks(format!("recent fetch failed: {why}"))),
                    (None, _) => Err(Deny::UnknownKid(kid.to_owned())),
                };
            }
            cached
        };
        match self.refresh().await {
            Ok(()) => {
                let cache = self.cache.lock().map_err(|_| Deny::Jwks("cache lock poisoned".into()))?;
                cache.keys.get(kid).cloned().ok_or_else(|| Deny::UnknownKid(kid.to_owned()))
            }
            Err(e) => cached.ok_or(e),
        }
    }

    /// The cached key for `kid` while the keys are younger than their maximum age.
    fn fresh_key(&self, kid: &str) -> Result<Option<DecodingKey>, Deny> {
        let cache = self.cache.lock().map_err(|_| Deny::Jwks("cache lock poisoned".into()))?;
        let fresh = cache.fetched_at.is_some_and(|t| t.elapsed() < self.config.max_key_age);
        Ok(cache.keys.get(kid).filter(|_| fresh).cloned())
    }

    async fn refresh(&self) -> Result<(), Deny> {
        let started = Instant::now();
        if let Ok(mut cache) = self.cache.lock() {
            cache.last_attempt = Some(started);
        }
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched JWKS");
                let mut cache = self.cache.lock().map_err(|_| Deny::Jwks("cache lock poisoned".into()))?;
                cache.keys = keys;
                cache.fetched_at = Some(started);
                cache.last_failure = None;
                Ok(())
            }
            Err(why) => {
                tracing::error!(error = %why, url = self.config.jwks_url, "JWKS fetch failed");
                if let Ok(mut cache) = self.cache.lock() {
                    cache.last_failure = Some((started, why.clone()));
                }
                Err(Deny::Jwks(why))
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let response = self.http.get(&self.config.jwks_url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let set: JwkSet = response.json().await.map_err(|e| format!("not a JWKS: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            let rsa = matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::RSA(_));
            let rs256 = jwk.common.key_algorithm.is_none_or(|a| a == jsonwebtoken::jwk::KeyAlgorithm::RS256);
            let signing =
                jwk.common.public_key_use.as_ref().is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature);
            if rsa && rs256 && signing {
                if let Ok(key) = DecodingKey::from_jwk(jwk) {
                    keys.insert(kid, key);
                }
            }
        }
        if keys.is_empty() {
            return Err("the JWKS has no usable RS256 signing key".into());
        }
        Ok(keys)
    }
}

/// `groups` as the platform reads it: a JSON array of strings, or nothing. A string, a number or an array with a
/// non-string element is ignored (no groups); a control character in a group refuses the token.
fn groups(claim: Option<Value>) -> Result<Vec<String>, Deny> {
    let Some(Value::Array(items)) = claim else { return Ok(Vec::new()) };
    let strings: Option<Vec<String>> = items.into_iter().map(|v| v.as_str().map(str::to_owned)).collect();
    let groups = strings.unwrap_or_default();
    if groups.iter().any(|g| g.chars().any(char::is_control)) {
        return Err(Deny::ControlCharacter("groups"));
    }
    Ok(groups)
}

/// The simple response; a denial carries no context.
pub fn response(identity: Option<&Identity>) -> Response {
    let mut out = Response::default();
    if let Some(id) = identity {
        out.is_authorized = true;
        out.context = Context {
            sub: id.sub.clone(),
            email: id.email.clone().unwrap_or_default(),
            groups: serde_json::to_string(&id.groups).unwrap_or_else(|_| "[]".into()),
        };
    }
    out
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_count_only_as_an_array_of_strings() {
        assert_eq!(groups(Some(json!(["a", "b"]))).unwrap(), ["a", "b"]);
        assert!(groups(Some(json!("career-platform-admins"))).unwrap().is_empty(), "a bare string is ignored");
        assert!(groups(Some(json!(["a", 1]))).unwrap().is_empty(), "a mixed array is ignored");
        assert!(groups(Some(json!({"a": true}))).unwrap().is_empty());
        assert!(groups(None).unwrap().is_empty());
        assert_eq!(groups(Some(json!(["a\u{0}b"]))).unwrap_err(), Deny::ControlCharacter("groups"));
    }

    #[test]
    fn a_denial_carries_no_context() {
        assert_eq!(serde_json::to_value(response(None)).unwrap(), json!({"isAuthorized": false, "context": {}}));
        let allowed = response(Some(&Identity { sub: "s".into(), email: None, groups: vec!["g".into()] }));
        let allowed = serde_json::to_value(allowed).unwrap();
        assert_eq!(allowed, json!({"isAuthorized": true, "context": {"sub": "s", "groups": "[\"g\"]"}}));
    }
}
