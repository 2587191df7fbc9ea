//! Loading the database configuration once per container: from Secrets Manager in AWS, from the environment
//! locally.
//!
//! In AWS, `SUPABASE_SECRET_ARN` names a secret whose value is JSON: `{"url", "anon_key", "jwt_secret"}` and
//! optionally `"rest_url"` (default `<url>/rest/v1`; `url` defaults to `SUPABASE_URL`). Locally (no ARN),
//! `POSTGREST_URL`, `SUPABASE_JWT_SECRET` and optionally `SUPABASE_ANON_KEY` are read from the environment.

use serde::Deserialize;

use crate::db::DbConfig;

/// Why configuration could not be loaded; the message says which variable or secret to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set ({1})")]
    Missing(&'static str, &'static str),
    #[error("cannot read secret {arn}: {message}")]
    Secret { arn: String, message: String },
}

#[derive(Deserialize)]
struct SupabaseSecret {
    url: Option<String>,
    rest_url: Option<String>,
    #[serde(default)]
    anon_key: String,
    jwt_secret: String,
}

/// Reads the database configuration from Secrets Manager or, without `SUPABASE_SECRET_ARN`, the environment.
pub async fn load_db_config() -> Result<DbConfig, ConfigError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match env("SUPABASE_SECRET_ARN") {
        Some(arn) => {
            let text = read_secret(&arn).await?;
            let secret: SupabaseSecret = serde_json::from_str(&text).map_err(|e| ConfigError::Secret {
                arn: arn.clone(),
                message: format!("expected JSON with url, anon_key, jwt_secret: {e}"),
            })?;
            let rest_url = match (secret.rest_url, secret.url.or_else(|| env("SUPABASE_URL"))) {
                (Some(rest), _) => rest,
                (None, Some(url)) => format!("{}/rest/v1", url.trim_end_matches('/')),
                (None, None) => return Err(ConfigError::Missing("SUPABASE_URL", "and the secret has no url")),
            };
            Ok(DbConfig { rest_url, anon_key: secret.anon_key, jwt_secret: secret.jwt_secret })
        }
        None => Ok(DbConfig {
            rest_url: env("POSTGREST_URL")
                .ok_or(ConfigError::Missing("POSTGREST_URL", "set it, or SUPABASE_SECRET_ARN in AWS"))?,
            anon_key: env("SUPABASE_ANON_KEY").unwrap_or_default(),
            jwt_secret: env("SUPABASE_JWT_SECRET")
                .ok_or(ConfigError::Missing("SUPABASE_JWT_SECRET", "the secret PostgREST verifies tokens with"))?,
        }),
    }
}

/// One `GetSecretValue` call with the default AWS configuration of the container.
pub async fn read_secret(arn: &str) -> Result<String, ConfigError> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| ConfigError::Secret {
        arn: arn.to_owned(),
        message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
    })?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::Secret { arn: arn.to_owned(), message: "the secret has no string value".into() })
}
