//! The four environments and their settings table: everything that differs between dev, tst, stg and prd.
//!
//! Values here are configuration, not secrets: secret *values* live in Secrets Manager and never appear in a
//! stack. Changing a row changes exactly one environment's `*.tf.json`, which the golden test then shows.
//!
//! The identity provider, the Supabase project and the alarm recipients are per-team values. Until a team sets
//! them they hold examples on reserved names (`.invalid`, `example.com`; RFC 2606), which can never reach a real
//! host; synth refuses them for stg and prd (see [`Settings::placeholders`]).

use std::fmt;
use std::str::FromStr;

/// A deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Env {
    Dev,
    Tst,
    Stg,
    Prd,
}

impl Env {
    pub const ALL: [Env; 4] = [Env::Dev, Env::Tst, Env::Stg, Env::Prd];

    pub const fn as_str(self) -> &'static str {
        match self {
            Env::Dev => "dev",
            Env::Tst => "tst",
            Env::Stg => "stg",
            Env::Prd => "prd",
        }
    }

    /// Whether a deployment must not carry example values (stg and prd).
    pub const fn is_production_like(self) -> bool {
        matches!(self, Env::Stg | Env::Prd)
    }

    /// The settings row of this environment.
    pub fn settings(self) -> Settings {
        let e = self.as_str();
        let base = Settings {
            env: self,
            stage: e.to_owned(),
            preview: None,
            project: "sts-career",
            name_prefix: format!("career-{e}"),
            region: "us-east-1",
            log_retention_days: 14,
            cors_origins: vec!["https://career.example.com", "http://localhost:3000"],
            log_level: "DEBUG",
            lambda_memory_mb: None,
            lambda_timeout_s: None,
            // Reserved concurrency caps what one function (or one hung dependency holding its requests) can take
            // from the account's shared pool (1,000 by default, of which 100 must stay unreserved), so the other
            // modules keep serving. Reaching the cap shows as throttles, which alarm.
            reserved_concurrency: Concurrency { module_function: 10, authorizer: 20, account: 1000 },
            // API Gateway caches an authorizer decision per Authorization header for this long: a token stays
            // usable that long past its expiry or revocation. Short outside prd to keep tests honest; prd must stay
            // at 60 s or less (a test checks).
            authorizer_cache_ttl_s: 30,
            throttling_burst_limit: 100,
            throttling_rate_limit: 50.0,
            secret_recovery_window_days: 7,
            supabase_url: format!("https://career-{e}.supabase.invalid"),
            supabase_publishable_key: format!("{EXAMPLE_PUBLISHABLE_KEY}_{e}"),
            okta_domain: "career.okta.invalid".into(),
            okta_issuer: format!("https://career.okta.invalid/oauth2/career-{e}"),
            okta_audience: format!("api://career-{e}"),
            okta_service_clients: Vec::new(),
            service_scope: "career.service",
            admin_group: "career-platform-admins",
            max_orgs_per_user: 20,
            // Invitations: an organization holds at most this many open at once, and one person sends at most this
            // many an hour (a refreshed invitation counts as sent again). Generous for people, a wall for a script;
            // imports (owners only, 10,000 addresses at most each) count against the first and not the second.
            max_open_invitations_per_org: 20_000,
            max_invitations_per_hour: 100,
            alarm_emails: Vec::new(),
            account_id: EXAMPLE_ACCOUNT,
            break_glass_role: "career-break-glass",
            // The repository whose workflows may deploy (GitHub's OIDC `sub`: `repo:<this>:environment:<env>`).
            github_repository: "example-org/career-platform",
            // Where on, the apply signs each package with the stack's profile (an artifacts bucket and a signing job
            // per package) and Lambda refuses any package that profile did not sign; elsewhere the local zips are
            // deployed as they are and an unsigned one is only logged (Warn). prd turns it on.
            enforce_code_signing: false,
            // dev and tst take a release at once: their alarms still stop and roll it back.
            deployment_config: "CodeDeployDefault.LambdaAllAtOnce",
            // Below this many requests in 5 minutes, a 5xx rate is noise: one failure at 3 a.m. does not page.
            alarm_min_requests: 20,
            // Previews live in dev's account (`cargo xtask preview`): at most this many at once, so that forgotten
            // ones cannot fill the account's quotas (a test holds their reserved concurrency within the account's).
            max_previews: 5,
            backend: StateBackend {
                bucket: format!("career-terraform-state-{e}"),
                key: "platform/terraform.tfstate".to_owned(),
                region: "us-east-1",
                use_lockfile: true,
            },
        };
        match self {
            Env::Dev => base,
            Env::Tst => Settings { log_retention_days: 30, log_level: "INFO", ..base },
            Env::Stg => Settings {
                log_retention_days: 90,
                log_level: "INFO",
                throttling_burst_limit: 500,
                throttling_rate_limit: 250.0,
                reserved_concurrency: Concurrency { module_function: 25, authorizer: 50, account: 1000 },
                authorizer_cache_ttl_s: 60,
                alarm_emails: vec!["platform-oncall@example.com"],
                // stg rehearses prd's rollout, faster: 10 % more of the traffic every minute.
                deployment_config: "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
                ..base
            },
            Env::Prd => Settings {
                log_retention_days: 365,
                log_level: "INFO",
                cors_origins: vec!["https://career.example.com"],
                throttling_burst_limit: 2000,
                throttling_rate_limit: 1000.0,
                // Up to 80 each: eight module functions and the authorizer take 8 × 80 + 200 = 840 of the account's
                // default 1,000. A ninth function and more share the 700 left equally (twelve: 58 each); raise the
                // quota and `account` when the share gets too small to serve a burst.
                reserved_concurrency: Concurrency { module_function: 80, authorizer: 200, account: 1000 },
                // 60 s: a revoked or expired token works at most a minute longer, against one authorizer
                // invocation per token per minute (docs/generated/cost-dev.md has the figure).
                authorizer_cache_ttl_s: 60,
                secret_recovery_window_days: 30,
                alarm_emails: vec!["platform-oncall@example.com"],
                alarm_min_requests: 50,
                // A canary: 10 % of the traffic for 5 minutes, watched by the function's alarms, then the rest.
                deployment_config: "CodeDeployDefault.LambdaCanary10Percent5Minutes",
                enforce_code_signing: true,
                ..base
            },
        }
    }
}

impl fmt::Display for Settings {
    /// The stage's name (`dev`, `pr-7`), as messages name it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stage)
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An environment name that is not one of dev, tst, stg, prd.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment `{0}`: expected one of dev, tst, stg, prd")]
pub struct UnknownEnv(pub String);

impl FromStr for Env {
    type Err = UnknownEnv;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Env::ALL.into_iter().find(|e| e.as_str() == s).ok_or_else(|| UnknownEnv(s.to_owned()))
    }
}

/// How every example publishable key starts (a real one starts `sb_publishable_` followed by random characters).
pub const EXAMPLE_PUBLISHABLE_KEY: &str = "sb_publishable_EXAMPLE";

/// The account id AWS's documentation uses in examples (and the local emulator's): never a real account of ours.
pub const EXAMPLE_ACCOUNT: &str = "123456789012";

/// Where an environment's Terraform state lives (S3 with S3-native locking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateBackend {
    pub bucket: String,
    /// The state object's key: `platform/terraform.tfstate`, a preview's `previews/<name>/terraform.tfstate`.
    pub key: String,
    pub region: &'static str,
    pub use_lockfile: bool,
}

/// Reserved concurrency per function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// The most each module function reserves; fewer when the catalog's functions would not fit the account (see
    /// [`Concurrency::module_function_share`]).
    pub module_function: u32,
    /// The authorizer (invoked on every cache miss of every route).
    pub authorizer: u32,
    /// The account's Lambda concurrency quota in the region (AWS's default is 1,000; raised through Service Quotas).
    pub account: u32,
}

/// What Lambda requires to stay unreserved in an account: reserved concurrency can never take the last hundred.
pub const UNRESERVED: u32 = 100;

/// The fewest concurrent executions a module function is given: below it, a function would throttle at its first
/// burst, and a queue's event source mapping (at least 2) would not fit.
pub const MIN_SHARE: u32 = 5;

/// What a scheduled function reserves: one run at a time. A run never overlaps the next (a late start waits as a
/// retried asynchronous invocation), and an hourly sweep does not take from what the functions serving requests and
/// queues share.
pub const SCHEDULED: u32 = 1;

/// A catalog's module functions as reserved concurrency counts them: those that serve requests, queues and uploads
/// (each a share) and the scheduled ones ([`SCHEDULED`] each). The stacks count them by trigger kind
/// (`stacks::triggers::module_functions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleFunctions {
    pub serving: u32,
    pub scheduled: u32,
}

impl Concurrency {
    /// What each serving module function reserves: `module_function`, or less when that many would take more than
    /// the account leaves after the authorizer, the scheduled functions and the unreserved hundred (an equal share
    /// of what is left). Refused when the share falls under [`MIN_SHARE`], with the fix.
    pub fn module_function_share(&self, functions: ModuleFunctions) -> Result<u32, String> {
        let pool = self.account.saturating_sub(UNRESERVED + self.authorizer + functions.scheduled * SCHEDULED);
        let share = self.module_function.min(pool / functions.serving.max(1));
        if share < MIN_SHARE {
            return Err(format!(
                "{} module functions, the authorizer's {} and {} scheduled functions' {SCHEDULED} each cannot each \
                 reserve {MIN_SHARE} or more of the account's {} (Lambda keeps {UNRESERVED} unreserved): raise the \
                 account's Lambda concurrency quota (Service Quotas) and `account` in stacks/settings/src/env.rs with it",
                functions.serving, self.authorizer, functions.scheduled, self.account
            ));
        }
        Ok(share)
    }

    /// The account quota at which every serving module function reserves all of `module_function`.
    pub fn account_for(&self, functions: ModuleFunctions) -> u32 {
        UNRESERVED + self.authorizer + functions.scheduled * SCHEDULED + self.module_function * functions.serving
    }
}

/// One row of the settings table.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The environment whose row this is (a preview's is dev: its behaviour is dev's).
    pub env: Env,
    /// The name every deployed name carries: the environment's (`dev`), or a preview's (`pr-7`).
    pub stage: String,
    /// Set for a preview: what makes it one (its expiry, tagged on everything it deploys).
    pub preview: Option<crate::preview::Preview>,
    /// The `Project` cost-allocation tag.
    pub project: &'static str,
    /// Prefix of platform-level resource names (`career-dev`).
    pub name_prefix: String,
    pub region: &'static str,
    /// Retention of every log group, in days (one of CloudWatch's allowed values).
    pub log_retention_days: u32,
    /// Origins the HTTP API's CORS configuration allows.
    pub cors_origins: Vec<&'static str>,
    /// `LOG_LEVEL` of every function.
    pub log_level: &'static str,
    /// Overrides every module function's memory size when set.
    pub lambda_memory_mb: Option<u32>,
    /// Overrides every module function's timeout when set.
    pub lambda_timeout_s: Option<u32>,
    pub reserved_concurrency: Concurrency,
    /// How long API Gateway caches an authorizer decision per Authorization header (see the value's comment).
    pub authorizer_cache_ttl_s: u32,
    pub throttling_burst_limit: u32,
    pub throttling_rate_limit: f64,
    pub secret_recovery_window_days: u32,
    /// The Supabase project URL (`https://<ref>.supabase.co`).
    pub supabase_url: String,
    /// The Supabase project's publishable (anon) key: public by design (it grants only what RLS allows the
    /// `anon` and `authenticated` roles, and every request also carries the caller's token), so it is an
    /// environment variable, not a secret. Reading it from Secrets Manager cost each cold start a TLS handshake
    /// and a signed call: 26–29 % of an org function's cold-start CPU (BENCHMARKS.md, "Cold start").
    pub supabase_publishable_key: String,
    /// The Okta org's host, for the Users API (`<org>.okta.com`).
    pub okta_domain: String,
    /// The issuer of the access tokens the platform trusts (an Okta authorization server).
    pub okta_issuer: String,
    /// The audience this environment's tokens carry, and the only one its authorizer accepts.
    pub okta_audience: String,
    /// Each module's service application at the identity provider, `(module, client id)`: the client its functions
    /// without a caller get tokens as (client credentials, `private_key_jwt` with the module's service key). A module
    /// that needs one and is not listed gets an example id, which synth refuses for stg and prd.
    pub okta_service_clients: Vec<(&'static str, &'static str)>,
    /// The scope service tokens are requested with; the authorization server adds `role: service` to tokens of this
    /// scope (docs/deploying.md).
    pub service_scope: &'static str,
    /// The group whose members are platform admins (also written to the database by `cargo xtask db migrate`).
    pub admin_group: &'static str,
    /// Live organizations one user may create (written to the database with the admin group).
    pub max_orgs_per_user: u32,
    /// Open invitations one organization may hold (written to the database; 409 beyond).
    pub max_open_invitations_per_org: u32,
    /// Invitations one person may send in an hour (written to the database; 429 beyond).
    pub max_invitations_per_hour: u32,
    /// Who is e-mailed when an alarm fires or recovers; prd refuses an empty list.
    pub alarm_emails: Vec<&'static str>,
    /// The fewest requests in 5 minutes for which a 5xx rate can page.
    pub alarm_min_requests: u32,
    /// The most previews this environment's account holds at once (dev's row is the one that counts).
    pub max_previews: u32,
    /// The AWS account this environment lives in; the provider refuses to act in any other.
    pub account_id: &'static str,
    /// A role, outside this stack, that may read the secrets in an emergency (besides the functions that declare
    /// them); created and guarded by the account's administrators.
    pub break_glass_role: &'static str,
    /// The GitHub repository (`owner/name`) whose workflows may plan and deploy this environment: the pipeline's
    /// roles trust only its `<env>` and `<env>-plan` environments.
    pub github_repository: &'static str,
    /// Refuse (instead of log) deploying Lambda packages the signing profile did not sign.
    pub enforce_code_signing: bool,
    /// How CodeDeploy shifts a function's alias to a new version (one of CodeDeploy's predefined Lambda
    /// configurations): all at once where a bad release costs little, gradually where people depend on it.
    pub deployment_config: &'static str,
    pub backend: StateBackend,
}

/// A host that is an example, never a real system (RFC 2606 names).
pub fn is_example_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host.ends_with(".invalid")
        || host == "invalid"
        || ["example.com", "example.org", "example.net"].iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or(rest)
}

/// How every example service client id starts.
pub const EXAMPLE_SERVICE_CLIENT: &str = "example-service-client-";

impl Settings {
    /// The client id of `module`'s service application (an example id when the table has none).
    pub fn service_client_id(&self, module: &str) -> String {
        self.okta_service_clients
            .iter()
            .find(|(m, _)| *m == module)
            .map(|(_, id)| (*id).to_owned())
            .unwrap_or_else(|| format!("{EXAMPLE_SERVICE_CLIENT}{module}"))
    }

    /// The settings that still hold example values, as `(name, value)`: each must be set in `stacks/settings/src/env.rs`
    /// before this environment can be deployed for real.
    pub fn placeholders(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut check = |name: &'static str, value: &str, example: bool| {
            if example {
                out.push((name, value.to_owned()));
            }
        };
        check("supabase_url", &self.supabase_url, is_example_host(host_of(&self.supabase_url)));
        let key = &self.supabase_publishable_key;
        check("supabase_publishable_key", key, key.starts_with(EXAMPLE_PUBLISHABLE_KEY));
        check("okta_domain", &self.okta_domain, is_example_host(&self.okta_domain));
        check("okta_issuer", &self.okta_issuer, is_example_host(host_of(&self.okta_issuer)));
        for email in &self.alarm_emails {
            check("alarm_emails", email, is_example_host(email.rsplit('@').next().unwrap_or(email)));
        }
        check("account_id", self.account_id, self.account_id == EXAMPLE_ACCOUNT);
        for module in route_registry::MODULES.iter().filter(|m| m.has_service_identity()) {
            let id = self.service_client_id(module.name);
            check("okta_service_clients", &id, id.starts_with(EXAMPLE_SERVICE_CLIENT));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for env in Env::ALL {
            assert_eq!(env.as_str().parse::<Env>(), Ok(env));
        }
        assert_eq!(
            "prod".parse::<Env>().unwrap_err().to_string(),
            "unknown environment `prod`: expected one of dev, tst, stg, prd"
        );
    }

    #[test]
    fn localhost_is_allowed_everywhere_but_prd() {
        for env in Env::ALL {
            let has_localhost = env.settings().cors_origins.contains(&"http://localhost:3000");
            assert_eq!(has_localhost, env != Env::Prd, "{env}");
        }
    }

    #[test]
    fn retention_values_are_ones_cloudwatch_accepts() {
        const ALLOWED: &[u32] =
            &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
        for env in Env::ALL {
            assert!(ALLOWED.contains(&env.settings().log_retention_days), "{env}");
        }
    }

    #[test]
    fn each_environment_has_its_own_audience_and_prd_a_short_cache() {
        let audiences: Vec<String> = Env::ALL.iter().map(|e| e.settings().okta_audience).collect();
        for (i, a) in audiences.iter().enumerate() {
            assert_eq!(audiences.iter().filter(|b| *b == a).count(), 1, "{a} is shared");
            assert_eq!(*a, format!("api://career-{}", Env::ALL[i]));
        }
        assert!(Env::Prd.settings().authorizer_cache_ttl_s <= 60);
        assert_ne!(Env::Prd.settings().admin_group, "admin");
    }

    #[test]
    fn reserved_concurrency_leaves_the_account_its_unreserved_hundred() {
        // The catalog's own count is the stacks' (`stacks::triggers::module_functions`), tested there.
        let reserved = |c: &Concurrency, f: ModuleFunctions, share: u32| {
            share * f.serving + f.scheduled * SCHEDULED + c.authorizer
        };
        // The share shrinks as modules arrive, never over the account, and is refused with the fix when too small;
        // a scheduled function takes one, not a share.
        let prd = Env::Prd.settings().reserved_concurrency;
        let serving = |n| ModuleFunctions { serving: n, scheduled: 0 };
        assert_eq!(prd.module_function_share(serving(8)), Ok(80));
        assert_eq!(prd.module_function_share(serving(12)), Ok(58));
        assert_eq!(prd.module_function_share(ModuleFunctions { serving: 8, scheduled: 3 }), Ok(80));
        assert_eq!(prd.account_for(ModuleFunctions { serving: 8, scheduled: 3 }), 943);
        for n in 1..=140 {
            for scheduled in [0, 5] {
                let f = ModuleFunctions { serving: n, scheduled };
                if let Ok(share) = prd.module_function_share(f) {
                    assert!(reserved(&prd, f, share) <= prd.account - UNRESERVED, "{f:?}");
                    assert!(share >= MIN_SHARE);
                }
            }
        }
        let refused = prd.module_function_share(serving(141)).unwrap_err();
        assert!(refused.contains("raise the account's Lambda concurrency quota"), "{refused}");
    }

    #[test]
    fn example_hosts_are_recognised() {
        assert!(is_example_host("career.okta.invalid"));
        assert!(is_example_host("oncall.example.com"));
        assert!(!is_example_host("acme.okta.com"));
        assert!(!is_example_host("example.com.evil.io"));
        assert_eq!(host_of("https://a.supabase.co/rest"), "a.supabase.co");
        let mut names: Vec<&str> = Env::Prd.settings().placeholders().into_iter().map(|(n, _)| n).collect();
        names.dedup();
        assert_eq!(
            names,
            [
                "supabase_url",
                "supabase_publishable_key",
                "okta_domain",
                "okta_issuer",
                "alarm_emails",
                "account_id",
                "okta_service_clients"
            ]
        );
    }
}
