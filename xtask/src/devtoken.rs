//! `cargo xtask dev-token`: a JWT from the local development issuer, so the API can be exercised without Okta.
//!
//! The key pair in `xtask/dev-issuer/` is for local development only and public by design: its issuer is refused
//! by synth for stg and prd, and its host is under `.invalid`, so no deployed authorizer can fetch its keys.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use stacks::dev_issuer;

use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subject (`sub`), as the identity provider would send it.
    #[arg(long)]
    sub: String,
    /// The e-mail claim.
    #[arg(long)]
    email: Option<String>,
    /// Comma-separated groups, e.g. `admin`.
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Lifetime in seconds (at most one day).
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

pub fn run(args: &Args) -> Result<()> {
    println!("{}", mint(&args.sub, args.email.as_deref(), &args.groups, args.ttl)?);
    Ok(())
}

/// Signs a development token.
pub fn mint(sub: &str, email: Option<&str>, groups: &[String], ttl: u64) -> Result<String> {
    if sub.trim().is_empty() {
        bail!("--sub must not be empty");
    }
    if ttl == 0 || ttl > 86_400 {
        bail!("--ttl must be between 1 and 86400 seconds");
    }
    let pem_path = workspace_root().join("xtask/dev-issuer/private.pem");
    let pem = std::fs::read(&pem_path).with_context(|| format!("cannot read {}", pem_path.display()))?;
    let key = EncodingKey::from_rsa_pem(&pem).context("the development key is not an RSA PEM key")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(dev_issuer::KID.into());
    let claims = json!({
        "iss": dev_issuer::ISSUER,
        "aud": dev_issuer::AUDIENCE,
        "sub": sub,
        "email": email,
        "groups": groups,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
    });
    jsonwebtoken::encode(&header, &claims, &key).context("cannot sign the token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation};

    /// The JWKS matching the development key, as the local tooling serves it.
    fn jwks() -> Result<String> {
        let path = workspace_root().join("xtask/dev-issuer/jwks.json");
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    #[test]
    fn tokens_verify_against_the_served_jwks() {
        let token = mint("00u-dev", Some("dev@example.com"), &["admin".into()], 600).unwrap();
        let set: JwkSet = serde_json::from_str(&jwks().unwrap()).unwrap();
        let jwk = set.find(dev_issuer::KID).expect("the JWKS has the development kid");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[dev_issuer::ISSUER]);
        validation.set_audience(&[dev_issuer::AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap();
        assert_eq!(data.claims["sub"], "00u-dev");
        assert_eq!(data.claims["groups"], json!(["admin"]));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(mint(" ", None, &[], 60).is_err());
        assert!(mint("x", None, &[], 0).is_err());
        assert!(mint("x", None, &[], 100_000).is_err());
    }
}
