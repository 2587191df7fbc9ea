//! A module's service identity: how a function without a caller (a queue's, a schedule's, an object's) reaches the
//! database. It asks the identity provider for an access token of its own with the client-credentials grant,
//! authenticating with `private_key_jwt`: a short-lived client assertion (RFC 7523: `iss` and `sub` the client id,
//! `aud` the token endpoint, `exp`, a unique `jti`) signed ES256 by the module's KMS key, whose private key never
//! leaves KMS (the function may only `kms:Sign` with it). No component but the identity provider can make a token
//! the database accepts, so that invariant holds for services too.
//!
//! The token is cached until [`REFRESH_MARGIN`] before it expires; a token the database refuses is dropped and the
//! next call gets a new one.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::aws::{Aws, Service};
use crate::error::Dependency;
use crate::{timeouts, ApiError};

/// A token is renewed this long before it expires (or at half its life, when that is sooner).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// How long a client assertion is valid: only for the one token request it is made for.
pub const ASSERTION_TTL_S: u64 = 300;
/// The client assertion type of `private_key_jwt`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Where the token comes from and what signs the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The authorization server's token endpoint (`https://<okta>/oauth2/<server>/v1/token`).
    pub token_url: String,
    /// The module's service application at the identity provider.
    pub client_id: String,
    /// The module's service key (a KMS key id or ARN).
    pub key_id: String,
    /// The scope requested (`career.service`).
    pub scope: String,
}

impl ServiceConfig {
    /// The `kid` the assertion names: the key's id (the last part of its ARN), as registered with the public key.
    pub fn kid(&self) -> &str {
        self.key_id.rsplit('/').next().unwrap_or(&self.key_id)
    }
}

#[derive(Debug, Clone)]
struct Token {
    value: String,
    renew_at: Instant,
}

/// The container's service identity: the token, cached.
#[derive(Debug)]
pub struct ServiceIdentity {
    http: reqwest::Client,
    aws: Aws,
    config: ServiceConfig,
    cached: tokio::sync::Mutex<Option<Token>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: u64,
}

impl ServiceIdentity {
    pub fn new(http: reqwest::Client, aws: Aws, config: ServiceConfig) -> ServiceIdentity {
        ServiceIdentity { http, aws, config, cached: tokio::sync::Mutex::new(None) }
    }

    /// An access token of the service principal: the cached one, or a new one (a KMS signature and a token
    /// request) within `deadline`.
    pub async fn token(&self, deadline: Instant) -> Result<String, ApiError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let assertion = self.assertion(deadline).await?;
        let token = self.request(&assertion, deadline).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Drops the cached token (the database refused it): the next call gets a new one.
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// The client assertion: header and claims, signed by KMS.
    async fn assertion(&self, deadline: Instant) -> Result<String, ApiError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(ApiError::internal)?.as_secs();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.config.kid()});
        let claims = json!({
            "iss": self.config.client_id,
            "sub": self.config.client_id,
            "aud": self.config.token_url,
            "iat": now,
            "exp": now + ASSERTION_TTL_S,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let answer = self
            .aws
            .call(
                Service::Kms,
                "Sign",
                &json!({
                    "KeyId": self.config.key_id,
                    "Message": STANDARD.encode(input.as_bytes()),
                    "MessageType": "RAW",
                    "SigningAlgorithm": "ECDSA_SHA_256",
                }),
                timeouts::KMS_REQUEST,
                deadline,
            )
            .await?;
        let der =
            answer.get("Signature").and_then(Value::as_str).and_then(|s| STANDARD.decode(s).ok()).ok_or_else(|| {
                ApiError::BadGateway {
                    dependency: Dependency::Keys,
                    detail: "KMS Sign answered without a base64 Signature".into(),
                }
            })?;
        let raw = der_to_jose(&der).ok_or_else(|| ApiError::BadGateway {
            dependency: Dependency::Keys,
            detail: "KMS Sign answered with a signature that is not a DER ECDSA P-256 signature".into(),
        })?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw)))
    }

    async fn request(&self, assertion: &str, deadline: Instant) -> Result<Token, ApiError> {
        let dependency = Dependency::IdentityProvider;
        let wait = timeouts::bound(timeouts::OKTA_REQUEST, deadline).ok_or_else(|| ApiError::Timeout {
            dependency,
            detail: "the deadline passed before the token request".into(),
        })?;
        let started = Instant::now();
        let response = self
            .http
            .post(&self.config.token_url)
            .timeout(wait)
            .header("accept", "application/json")
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", self.config.scope.as_str()),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion),
            ])
            .send()
            .await
            .map_err(|e| ApiError::transport(dependency, &e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("x-rate-limit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let text = response.text().await.map_err(|e| ApiError::transport(dependency, &e))?;
        if status == 200 {
            let answer: TokenAnswer = serde_json::from_str(&text).map_err(|e| ApiError::BadGateway {
                dependency,
                detail: format!("the token endpoint answered 200 without a token: {e}"),
            })?;
            if !answer.token_type.eq_ignore_ascii_case("bearer") || answer.access_token.is_empty() {
                return Err(ApiError::BadGateway {
                    dependency,
                    detail: format!("the token endpoint answered a {} token", answer.token_type),
                });
            }
            let life = Duration::from_secs(answer.expires_in);
            let renew_in = life.saturating_sub(REFRESH_MARGIN).min(life / 2);
            return Ok(Token { value: answer.access_token, renew_at: started + renew_in });
        }
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let error = parsed.get("error").and_then(Value::as_str).unwrap_or("");
        let description = parsed.get("error_description").and_then(Value::as_str).unwrap_or("");
        let detail = format!("the token endpoint answered {status} {error}: {description}");
        Err(match status {
            429 => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
                let retry_after_s =
                    retry_after.map(|reset| reset.saturating_sub(now).max(1)).unwrap_or(timeouts::RETRY_AFTER_S);
                ApiError::Unavailable { dependency, retry_after_s, detail }
            }
            s if s >= 500 => ApiError::Unavailable { dependency, retry_after_s: timeouts::RETRY_AFTER_S, detail },
            // invalid_client, unauthorized_client, invalid_scope …: the service application or its key is not set up
            // as the platform expects (docs/deploying.md); nothing a retry fixes.
            _ => ApiError::BadGateway { dependency, detail },
        })
    }
}

/// A DER ECDSA signature (`SEQUENCE { INTEGER r, INTEGER s }`, what KMS returns) as JOSE's `r || s`, 32 bytes each
/// for P-256.
pub fn der_to_jose(der: &[u8]) -> Option<[u8; 64]> {
    fn length(bytes: &[u8]) -> Option<(usize, &[u8])> {
        let (&first, rest) = bytes.split_first()?;
        if first < 0x80 {
            return Some((usize::from(first), rest));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let value = rest[..n].iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        Some((value, &rest[n..]))
    }
    fn integer(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        if tag != 0x02 {
            return None;
        }
        let (len, rest) = length(rest)?;
        if rest.len() < len {
            return None;
        }
        Some((&rest[..len], &rest[len..]))
    }
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (len, body) = length(rest)?;
    if body.len() != len {
        return None;
    }
    let (r, rest) = integer(body)?;
    let (s, rest) = integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    for (i, n) in [r, s].into_iter().enumerate() {
        let n = match n.iter().position(|b| *b != 0) {
            Some(start) => &n[start..],
            None => &n[n.len()..],
        };
        if n.len() > 32 {
            return None;
        }
        out[i * 32 + 32 - n.len()..i * 32 + 32].copy_from_slice(n);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_signatures_become_fixed_width_r_and_s() {
        // r with a leading zero (high bit set), s short (leading zero bytes dropped by DER).
        let mut r = vec![0x00];
        r.extend([0x80; 32]);
        let s = vec![0x01; 31];
        let mut body = vec![0x02, r.len() as u8];
        body.extend(&r);
        body.extend([0x02, s.len() as u8]);
        body.extend(&s);
        let mut der = vec![0x30, body.len() as u8];
        der.extend(&body);
        let jose = der_to_jose(&der).unwrap();
        assert_eq!(&jose[..32], &[0x80; 32]);
        assert_eq!(jose[32], 0);
        assert_eq!(&jose[33..], &[0x01; 31]);
        assert_eq!(der_to_jose(&der[..der.len() - 1]), None, "truncated");
        assert_eq!(der_to_jose(&[0x31, 0x00]), None, "not a sequence");
        let mut long = vec![0x30, 0x26, 0x02, 0x21];
        long.extend([0x01; 33]);
        long.extend([0x02, 0x01, 0x01]);
        assert_eq!(der_to_jose(&long), None, "r wider than 32 bytes");
    }

    #[test]
    fn the_kid_is_the_key_id() {
        let config = ServiceConfig {
            token_url: "https://x/oauth2/s/v1/token".into(),
            client_id: "c".into(),
            key_id: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab".into(),
            scope: "career.service".into(),
        };
        assert_eq!(config.kid(), "1234abcd-12ab");
    }
}
