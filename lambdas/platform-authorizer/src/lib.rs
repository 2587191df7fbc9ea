//! The API Gateway HTTP API Lambda authorizer (payload format 2.0, simple responses): verifies the caller's
//! `Authorization: Bearer <JWT>` against the issuer's JWKS and answers
//! `{"isAuthorized": true, "context": {"sub", "email", "groups"}}` or `{"isAuthorized": false}`.
//!
//! Rules: RS256 only, key chosen by `kid`; `iss`, `aud`, `exp`, `sub` required; `nbf` and `iat` checked with a small
//! leeway. The scheme `Bearer` is matched case-insensitively (RFC 7235: auth schemes are case-insensitive) and must
//! be followed by exactly one space; a header over 8 KiB is refused unread. `groups` travels as a JSON-encoded
//! array in a string (authorizer context values are scalars), which org-common parses back exactly. The context is
//! the same for every route, because API Gateway caches one decision per Authorization header for all routes.
//!
//! JWKS are fetched by this crate (jsonwebtoken parses them but does not fetch or cache) and cached per container;
//! an unknown `kid` triggers at most one refresh per minute; a failed fetch denies and is retried after a few
//! seconds, never allowed. It never logs a token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

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
}

/// The verified caller, as the handlers receive it in `requestContext.authorizer.lambda`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// What the authorizer trusts.
#[derive(Debug, Clone)]
pub struct Config {
    /// The exact `iss` expected (Okta: `https://<org>.okta.com/oauth2/<server>`).
    pub issuer: String,
    /// The `aud` expected (one of the token's audiences must equal it).
    pub audience: String,
    /// Where the keys are (Okta: `<issuer>/v1/keys`).
    pub jwks_url: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The shortest time between two JWKS fetches caused by unknown `kid`s.
    pub min_refresh_interval: Duration,
    /// How long a failed fetch is remembered before the next try.
    pub failure_backoff: Duration,
    /// How long fetched keys are used before they are fetched again (drops retired keys).
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

    /// A configuration with the production defaults (60 s leeway cap: 30 s; one refresh a minute).
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
    pub fn new(config: Config) -> Result<Authorizer, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Authorizer { config, http, cache: Mutex::new(Cache::default()) })
    }

    /// Handles one authorizer event (payload 2.0) and returns the simple response.
    pub async fn handle(&self, event: &Value) -> Value {
        let header = event
            .get("headers")
            .and_then(|h| h.get("authorization"))
            .and_then(Value::as_str)
            .or_else(|| event.get("identitySource").and_then(|s| s.get(0)).and_then(Value::as_str));
        let route = event.get("routeKey").and_then(Value::as_str).unwrap_or_default();
        let request_id = event.pointer("/requestContext/requestId").and_then(Value::as_str).unwrap_or_default();
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
        if let Some(iat) = claims.iat {
            if iat > now_secs() + self.config.leeway.as_secs() as i64 {
                return Err(Deny::IssuedInFuture);
            }
        }
        let groups = match claims.groups {
            Some(Value::Array(items)) => items.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect(),
            Some(Value::String(one)) => vec![one],
            _ => Vec::new(),
        };
        Ok(Identity { sub, email: claims.email, groups })
    }

    /// The key for `kid`, fetching the JWKS when the cache is empty, stale, or lacks the kid (rate-limited).
    async fn key(&self, kid: &str) -> Result<DecodingKey, Deny> {
        let now = Instant::now();
        let must_fetch = {
            let cache = self.cache.lock().map_err(|_| Deny::Jwks("cache lock poisoned".into()))?;
            if let Some((at, why)) = &cache.last_failure {
                if now.duration_since(*at) < self.config.failure_backoff {
                    return Err(Deny::Jwks(format!("recent fetch failed: {why}")));
                }
            }
            let fresh = cache.fetched_at.is_some_and(|t| now.duration_since(t) < self.config.max_key_age);
            if fresh {
                if let Some(key) = cache.keys.get(kid) {
                    return Ok(key.clone());
                }
                let recently =
                    cache.last_attempt.is_some_and(|t| now.duration_since(t) < self.config.min_refresh_interval);
                if recently {
                    return Err(Deny::UnknownKid(kid.to_owned()));
                }
            }
            true
        };
        if must_fetch {
            self.refresh().await?;
        }
        let cache = self.cache.lock().map_err(|_| Deny::Jwks("cache lock poisoned".into()))?;
        cache.keys.get(kid).cloned().ok_or_else(|| Deny::UnknownKid(kid.to_owned()))
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

/// The simple response; a denial carries no context.
pub fn response(identity: Option<&Identity>) -> Value {
    match identity {
        Some(id) => json!({
            "isAuthorized": true,
            "context": {
                "sub": id.sub,
                "email": id.email.clone().unwrap_or_default(),
                "groups": serde_json::to_string(&id.groups).unwrap_or_else(|_| "[]".into()),
            }
        }),
        None => json!({ "isAuthorized": false }),
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
