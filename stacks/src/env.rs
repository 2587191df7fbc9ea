//! The four environments and their settings table: everything that differs between dev, tst, stg and prd.
//!
//! Values here are configuration, not secrets: secret *values* live in Secrets Manager and never appear in a
//! stack. Changing a row changes exactly one environment's `*.tf.json`, which the golden test then shows.

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

    /// The settings row of this environment.
    pub fn settings(self) -> Settings {
        let base = Settings {
            env: self,
            project: "sts-career",
            name_prefix: format!("career-{}", self.as_str()),
            region: "us-east-1",
            log_retention_days: 14,
            cors_origins: vec!["https://career.example.com", "http://localhost:3000"],
            log_level: "DEBUG",
            lambda_memory_mb: None,
            lambda_timeout_s: None,
            authorizer_cache_ttl_s: 300,
            throttling_burst_limit: 100,
            throttling_rate_limit: 50.0,
            secret_recovery_window_days: 7,
            supabase_url: format!("https://career-{}.supabase.co", self.as_str()),
            okta_domain: "yourorg.okta.com",
            okta_issuer: "https://yourorg.okta.com/oauth2/default",
            okta_audience: "api://career",
            backend: StateBackend {
                bucket: format!("career-terraform-state-{}", self.as_str()),
                key: "platform/terraform.tfstate",
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
                ..base
            },
            Env::Prd => Settings {
                log_retention_days: 365,
                log_level: "INFO",
                cors_origins: vec!["https://career.example.com"],
                throttling_burst_limit: 2000,
                throttling_rate_limit: 1000.0,
                secret_recovery_window_days: 30,
                ..base
            },
        }
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

/// Where an environment's Terraform state lives (S3 with S3-native locking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateBackend {
    pub bucket: String,
    pub key: &'static str,
    pub region: &'static str,
    pub use_lockfile: bool,
}

/// One row of the settings table.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub env: Env,
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
    /// How long API Gateway caches an authorizer decision per Authorization header; keep it at or below the
    /// access-token lifetime.
    pub authorizer_cache_ttl_s: u32,
    pub throttling_burst_limit: u32,
    pub throttling_rate_limit: f64,
    pub secret_recovery_window_days: u32,
    pub supabase_url: String,
    pub okta_domain: &'static str,
    pub okta_issuer: &'static str,
    pub okta_audience: &'static str,
    pub backend: StateBackend,
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
            assert!(env.settings().cors_origins.contains(&"https://career.example.com"));
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
}
