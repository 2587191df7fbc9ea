//! `cargo xtask dev-token`: a JWT from the local development issuer, so the API can be exercised without Okta.
//!
//! Shaped like the Okta access tokens the platform trusts: `sub` is the login, `aud` the environment's audience,
//! `groups` an array, and `role: authenticated`, the claim Okta is configured to add for Supabase. The key pair is
//! public by design (`support/dev-issuer/`): synth refuses its issuer for stg and prd, and its host is under
//! `.invalid`, so nothing deployed can fetch its keys.

use anyhow::{bail, Result};
use stacks::Env;

use xtask_synth::parse_env;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subject (`sub`): the user's Okta login, as their access tokens carry it.
    #[arg(long)]
    sub: String,
    /// The e-mail claim.
    #[arg(long)]
    email: Option<String>,
    /// Comma-separated groups, e.g. `career-platform-admins`.
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// The environment whose audience the token carries.
    #[arg(long, value_parser = parse_env, default_value = "dev")]
    env: Env,
    /// Lifetime in seconds (at most one day).
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

pub fn run(args: &Args) -> Result<()> {
    let groups: Vec<&str> = args.groups.iter().map(String::as_str).collect();
    println!("{}", mint(&args.sub, args.email.as_deref(), &groups, args.env, args.ttl)?);
    Ok(())
}

/// Signs a development token.
pub fn mint(sub: &str, email: Option<&str>, groups: &[&str], env: Env, ttl: u64) -> Result<String> {
    if sub.trim().is_empty() {
        bail!("--sub must not be empty: give the user's login, e.g. --sub alice@example.com");
    }
    if ttl == 0 || ttl > 86_400 {
        bail!("--ttl must be between 1 and 86400 seconds");
    }
    let mut claims =
        dev_issuer::Claims::new(sub).groups(groups).audience(&dev_issuer::audience(env.as_str())).ttl(ttl as i64);
    if let Some(email) = email {
        claims = claims.email(email);
    }
    claims.sign().map_err(|e| anyhow::anyhow!("cannot sign the token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_arguments_are_refused() {
        assert!(mint(" ", None, &[], Env::Dev, 60).is_err());
        assert!(mint("x", None, &[], Env::Dev, 0).is_err());
        assert!(mint("x", None, &[], Env::Dev, 100_000).is_err());
        assert!(mint("alice@example.com", None, &[], Env::Tst, 60).is_ok());
    }
}
