//! Previews: a whole platform made from dev's settings under a name of its own (`pr-7`), for one change to be tried
//! before it merges. Every deployed name carries the preview's name instead of `dev`, its state has its own key in
//! dev's state bucket, and everything it deploys is tagged with its name and its expiry.
//!
//! The name guard lives here, where the settings are made, so that no road to a preview's settings can reach
//! dev, tst, stg or prd: [`PreviewName::parse`] refuses the four names and every name starting with one of them
//! (their roles' policies grant by name prefix, `function:dev*`), and anything that is not a short lowercase label.

use std::fmt;

use crate::env::{Concurrency, Env, Settings};

/// The longest preview name: the longest name a preview deploys (an IAM role's, limit 64) stays within AWS's
/// limits with room for module and function names to grow (a test synthesizes a preview of this length).
pub const MAX_NAME: usize = 12;

/// A checked preview name: 2 to [`MAX_NAME`] characters of `a-z`, `0-9` and single hyphens, starting with a
/// letter, ending with a letter or digit, and neither an environment's name nor starting with one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PreviewName(String);

/// Why a name cannot be a preview's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` cannot name a preview: {why}")]
pub struct BadPreviewName {
    pub name: String,
    pub why: String,
}

impl PreviewName {
    pub fn parse(name: &str) -> Result<PreviewName, BadPreviewName> {
        let bad = |why: String| Err(BadPreviewName { name: name.to_owned(), why });
        if let Some(env) = Env::ALL.iter().find(|e| name.starts_with(e.as_str())) {
            return bad(format!(
                "{env} is an environment, and a preview whose name starts with `{env}` would fall under {env}'s \
                 names (its roles grant `{env}*`); previews never touch an environment: pick another name, e.g. pr-7"
            ));
        }
        if name.len() < 2 || name.len() > MAX_NAME {
            return bad(format!("a preview's name has 2 to {MAX_NAME} characters (every name it deploys carries it)"));
        }
        let label = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name.as_bytes()[0].is_ascii_lowercase()
            && !name.ends_with('-')
            && !name.contains("--");
        if !label {
            return bad(
                "use lowercase letters, digits and single hyphens, starting with a letter (e.g. pr-123)".to_owned()
            );
        }
        Ok(PreviewName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PreviewName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name the pipeline's previews start with (`pr-<number>`), itself a valid name: the preview role's policy is
/// written from a preview of this name, whose names prefix every `pr-<number>` preview's.
pub const PIPELINE_PREVIEWS: &str = "pr";

impl PreviewName {
    /// [`PIPELINE_PREVIEWS`] as a name (a test holds it to the guard).
    pub fn pipeline() -> PreviewName {
        PreviewName(PIPELINE_PREVIEWS.to_owned())
    }
}

/// What makes a settings row a preview's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub name: PreviewName,
    /// When `cargo xtask preview sweep` may remove it (RFC 3339, UTC), unless renewed before.
    pub expires: String,
}

/// The database a preview uses: its Supabase branch's API and publishable key (the example values of dev's row
/// where there is no branch, as on the emulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewDatabase {
    pub supabase_url: String,
    pub publishable_key: String,
}

/// A preview's key prefix in dev's state bucket: its state, its record and its deploy records live under it.
pub fn state_prefix(name: &PreviewName) -> String {
    format!("previews/{name}/")
}

impl Settings {
    /// A preview's settings: dev's row under the preview's name, with its own state key, its expiry tagged, and what
    /// makes it cheap to keep and clean to remove: 3 days of logs, secrets deleted without a recovery window (the
    /// name is free again at once), buckets emptied on destroy, a small reserved concurrency (the previews share
    /// dev's account; a test holds all of them within it). It shares dev's identity provider and audience.
    pub fn for_preview(preview: Preview, database: Option<PreviewDatabase>) -> Settings {
        let dev = Env::Dev.settings();
        let name = preview.name.as_str().to_owned();
        let mut backend = dev.backend.clone();
        backend.key = format!("{}terraform.tfstate", state_prefix(&preview.name));
        let (supabase_url, supabase_publishable_key) = match database {
            Some(d) => (d.supabase_url, d.publishable_key),
            None => (dev.supabase_url.clone(), dev.supabase_publishable_key.clone()),
        };
        Settings {
            stage: name.clone(),
            name_prefix: format!("career-{name}"),
            preview: Some(preview),
            log_retention_days: 3,
            secret_recovery_window_days: 0,
            reserved_concurrency: PREVIEW_CONCURRENCY,
            throttling_burst_limit: 20,
            throttling_rate_limit: 10.0,
            supabase_url,
            supabase_publishable_key,
            backend,
            ..dev
        }
    }

    /// The preview's name, when this row is a preview's.
    pub fn preview_name(&self) -> Option<&PreviewName> {
        self.preview.as_ref().map(|p| &p.name)
    }
}

/// What a preview reserves: enough for a reviewer's clicks, little enough that [`Settings::max_previews`] of them
/// beside dev stay within the account's concurrency.
pub const PREVIEW_CONCURRENCY: Concurrency = Concurrency { module_function: 5, authorizer: 5, account: 1000 };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_refuses_environments_and_anything_not_a_short_label() {
        assert_eq!(PreviewName::parse(PIPELINE_PREVIEWS), Ok(PreviewName::pipeline()));
        for ok in ["pr-7", "pr-12345", "alice", "a1", "fix-login-2"] {
            assert_eq!(PreviewName::parse(ok).map(|n| n.to_string()), Ok(ok.to_owned()));
        }
        for env in ["dev", "tst", "stg", "prd", "dev2", "prd-copy", "stg-x"] {
            let e = PreviewName::parse(env).unwrap_err().to_string();
            assert!(e.contains("is an environment") && e.contains("pick another name"), "{e}");
        }
        for bad in ["", "a", "PR-7", "pr_7", "pr--7", "pr-7-", "7pr", "pr 7", "pr-7/x", "much-too-long-name", "prévu"]
        {
            assert!(PreviewName::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_preview_is_devs_row_under_its_own_name_state_and_expiry() {
        let name = PreviewName::parse("pr-7").unwrap();
        let s = Settings::for_preview(Preview { name: name.clone(), expires: "2026-12-14T00:00:00Z".into() }, None);
        assert_eq!((s.env, s.stage.as_str(), s.name_prefix.as_str()), (Env::Dev, "pr-7", "career-pr-7"));
        assert_eq!(s.backend.key, "previews/pr-7/terraform.tfstate");
        assert_eq!(s.backend.bucket, Env::Dev.settings().backend.bucket);
        assert_eq!(s.okta_audience, Env::Dev.settings().okta_audience, "previews share dev's audience");
        assert_eq!(s.preview_name(), Some(&name));
        assert_eq!(s.secret_recovery_window_days, 0);
    }

    #[test]
    fn dev_and_its_previews_stay_within_the_accounts_concurrency() {
        // Serving functions and scheduled ones as the catalog has them, with room for twice as many.
        let catalog = route_registry::all_functions().count() as u32 * 2;
        let dev = Env::Dev.settings();
        let reserve = |c: &Concurrency| c.authorizer + c.module_function * catalog;
        let total = reserve(&dev.reserved_concurrency) + dev.max_previews * reserve(&PREVIEW_CONCURRENCY);
        assert!(
            total <= dev.reserved_concurrency.account - crate::env::UNRESERVED,
            "dev and {} previews would reserve {total} of the account's {}",
            dev.max_previews,
            dev.reserved_concurrency.account
        );
    }
}
