//! The local development issuer: an RS256 key pair that is public by design (it is committed), its JWKS, and
//! token minting shaped like the Okta access tokens the platform trusts (`sub` = the login, `email`, `groups`, and
//! the `role: authenticated` claim Supabase's third-party auth requires).
//!
//! Nothing deployed trusts it: synth refuses it for stg and prd, and its issuer host is under `.invalid`
//! (RFC 2606), so no deployed authorizer or database could even fetch its keys. It is for `cargo xtask dev-token`,
//! the local API, and tests.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The issuer (`iss`).
pub const ISSUER: &str = "https://dev-issuer.career.invalid";
/// The key id every token names.
pub const KID: &str = "career-dev-1";
/// The JWKS with the public key, as the local API serves it and postrust verifies with.
pub const JWKS: &str = include_str!("../jwks.json");
/// The private key (public by design; never trusted by anything deployed).
const PRIVATE_PEM: &str = include_str!("../private.pem");
/// The role claim Okta is configured to add (docs/deploying.md): PostgREST switches to this database role.
pub const ROLE: &str = "authenticated";

/// A token's claims before signing.
#[derive(Debug, Clone)]
pub struct Claims {
    pub sub: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// The audience (`api://career-<env>`).
    pub audience: String,
    /// Lifetime in seconds from now (negative for an already expired token).
    pub ttl: i64,
    /// Extra claims merged last (tests use it to forge `role`, bad `groups` …).
    pub extra: Value,
}

impl Claims {
    /// A caller of the `dev` environment, valid for an hour.
    pub fn new(sub: &str) -> Claims {
        Claims {
            sub: sub.to_owned(),
            email: None,
            groups: Vec::new(),
            audience: audience("dev"),
            ttl: 3600,
            extra: Value::Null,
        }
    }

    pub fn email(mut self, email: &str) -> Claims {
        self.email = Some(email.to_owned());
        self
    }

    pub fn groups(mut self, groups: &[&str]) -> Claims {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    pub fn audience(mut self, audience: &str) -> Claims {
        self.audience = audience.to_owned();
        self
    }

    pub fn ttl(mut self, ttl: i64) -> Claims {
        self.ttl = ttl;
        self
    }

    pub fn extra(mut self, extra: Value) -> Claims {
        self.extra = extra;
        self
    }

    /// Signs the token with the development key.
    pub fn sign(&self) -> Result<String, String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs() as i64;
        let mut claims = json!({
            "iss": ISSUER,
            "aud": self.audience,
            "sub": self.sub,
            "groups": self.groups,
            "role": ROLE,
            "iat": now,
            "nbf": now.min(now + self.ttl),
            "exp": now + self.ttl,
        });
        if let Some(email) = &self.email {
            claims["email"] = json!(email);
        }
        if let (Value::Object(extra), Some(map)) = (&self.extra, claims.as_object_mut()) {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        let key = EncodingKey::from_rsa_pem(PRIVATE_PEM.as_bytes()).map_err(|e| e.to_string())?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())
    }
}

/// Service tokens issued by this process (their `jti`s differ).
static ISSUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The role claim of service tokens (client credentials): the database maps their client to a module.
pub const SERVICE_ROLE: &str = "service";

/// An access token for a service application, as the local authorization server (the Okta stand-in's token
/// endpoint) issues it for the client-credentials grant: `sub` and `cid` the client id, `scp` the scopes granted,
/// `role: service`, the `dev` audience, `ttl` seconds.
pub fn service_token(client_id: &str, scopes: &[&str], ttl: i64) -> Result<String, String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs() as i64;
    let claims = json!({
        "iss": ISSUER,
        "aud": audience("dev"),
        "sub": client_id,
        "cid": client_id,
        "scp": scopes,
        "role": SERVICE_ROLE,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": format!("AT.{now}.{}.{}", std::process::id(), ISSUED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.into());
    sign_raw(&header, &claims)
}

/// The audience an environment's authorizer and database require: `api://career-<env>`.
pub fn audience(env: &str) -> String {
    format!("api://career-{env}")
}

/// Signs arbitrary claims with an arbitrary header (for attack tests: another `kid`, `alg` …).
pub fn sign_raw(header: &Header, claims: &Value) -> Result<String, String> {
    let key = EncodingKey::from_rsa_pem(PRIVATE_PEM.as_bytes()).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(header, claims, &key).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn tokens_verify_against_the_jwks_and_carry_the_role() {
        let token = Claims::new("alice@example.com").email("alice@example.com").groups(&["g"]).sign().unwrap();
        let set: JwkSet = serde_json::from_str(JWKS).unwrap();
        let jwk = set.find(KID).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience("dev")]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
        assert_eq!(data.claims["sub"], "alice@example.com");
        assert_eq!(data.claims["role"], "authenticated");
        assert_eq!(data.claims["groups"], json!(["g"]));
    }
}
