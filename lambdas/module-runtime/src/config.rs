//! A function's configuration, loaded for what it declares in the catalog: from Secrets Manager in AWS, from the
//! environment locally. All or nothing: a function never serves with half a configuration.
//!
//! The database settings are public (the project URL and its publishable key) and come from the environment:
//! `SUPABASE_URL` (PostgREST at `<url>/rest/v1`; `POSTGREST_URL` names it directly, as locally) and
//! `SUPABASE_ANON_KEY`. A team whose policy keeps even the publishable key in Secrets Manager may set
//! `SUPABASE_SECRET_ARN` instead, naming a secret `{"url", "anon_key"}` (optionally `"rest_url"`; `url` defaults to
//! `SUPABASE_URL`); the stacks do not, since the read costs every cold start a TLS handshake and a signed call.
//! `OKTA_API_TOKEN_SECRET_ARN` names the secret holding the Okta API token (`{"api_token": …}` or the bare token),
//! used against `https://$OKTA_DOMAIN`; locally `OKTA_BASE_URL` with `OKTA_API_TOKEN` replace both. `OKTA_TIMEOUT_MS`
//! overrides the Okta request bound.
//!
//! A function that acts as its module's service principal (no caller) gets `SERVICE_KEY_ID` (its module's KMS key),
//! `OKTA_TOKEN_URL`, `OKTA_CLIENT_ID` and `SERVICE_SCOPE`; one that sends to queues gets each queue's URL in the
//! variable the catalog names (`QUEUE_URL_<BINARY>`); one with a documents prefix gets `DOCUMENTS_BUCKET` and
//! `DOCUMENTS_PREFIX` (`AWS_ENDPOINT_URL_S3` points at another S3). AWS calls use the credentials Lambda sets.
//!
//! No database token and no signing key is ever part of it: handlers forward the caller's own token, and a service
//! principal asks the identity provider for its own, signing with a key that never leaves KMS.

use std::time::Duration;

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use route_registry::Function;
use serde::Deserialize;

use crate::aws::AwsConfig;
use crate::documents::DocumentsConfig;

use crate::error::{error_chain, Dependency};
use crate::http_client::SdkHttpClient;
use crate::service_identity::ServiceConfig;
use crate::{timeouts, ApiError};

/// Why configuration could not be loaded; the message says which variable or secret to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set ({1})")]
    Missing(&'static str, &'static str),
    #[error("environment variable {0} is not set (the URL of a queue the function declares it sends to)")]
    MissingQueue(String),
    #[error("secret {arn} is malformed: {message}")]
    Malformed { arn: String, message: String },
    #[error("cannot read secret {arn}: {message}")]
    Unreachable { arn: String, message: String, timed_out: bool },
    /// Secrets Manager answered, refusing: no such secret, no permission, cannot decrypt.
    #[error("Secrets Manager refused to return secret {arn}: {message}")]
    Refused { arn: String, message: String },
}

impl From<ConfigError> for ApiError {
    /// A store that did not answer is 503/504 (it may come back); a missing or malformed setting is the
    /// operator's to fix, so 500. Either way the next request tries again.
    fn from(e: ConfigError) -> ApiError {
        match e {
            ConfigError::Unreachable { timed_out: true, .. } => {
                ApiError::Timeout { dependency: Dependency::Configuration, detail: e.to_string() }
            }
            ConfigError::Unreachable { .. } => ApiError::Unavailable {
                dependency: Dependency::Configuration,
                retry_after_s: timeouts::RETRY_AFTER_S,
                detail: e.to_string(),
            },
            other => ApiError::Internal(format!("configuration: {other}")),
        }
    }
}

/// Where PostgREST is.
#[derive(Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// The PostgREST base URL (`https://<project>.supabase.co/rest/v1`, or `http://127.0.0.1:<port>` locally).
    pub rest_url: String,
    /// The project's publishable (anon) key, sent as `apikey` (Supabase's gateway wants it); empty for a bare
    /// PostgREST. It grants nothing by itself: Row-Level Security acts on the caller's token.
    pub anon_key: String,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig").field("rest_url", &self.rest_url).finish_non_exhaustive()
    }
}

/// Where Okta is and how to authenticate.
#[derive(Clone, PartialEq, Eq)]
pub struct OktaConfig {
    /// `https://<OKTA_DOMAIN>`, or the local stand-in's URL.
    pub base_url: String,
    /// The API token (`Authorization: SSWS <token>`); never logged.
    pub token: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for OktaConfig {
    // The token never reaches a log, not even through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaConfig").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Everything a function's declared uses need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub db: Option<DbConfig>,
    pub okta: Option<OktaConfig>,
    /// Its module's service identity (functions without a caller that reach the database).
    pub service: Option<ServiceConfig>,
    /// The queues it sends to: `(consumer binary, queue URL)`.
    pub queues: Vec<(String, String)>,
    /// The documents bucket and the function's prefix in it.
    pub documents: Option<DocumentsConfig>,
    /// AWS, for the service key, the queues and the documents.
    pub aws: Option<AwsConfig>,
}

#[derive(Deserialize)]
struct SupabaseSecret {
    url: Option<String>,
    rest_url: Option<String>,
    #[serde(default)]
    anon_key: String,
}

#[derive(Deserialize)]
struct OktaSecret {
    api_token: String,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Loads what `function` declares it uses.
pub async fn load(function: Function, http: &reqwest::Client) -> Result<Config, ConfigError> {
    let mut secrets = Secrets { http, client: None };
    let mut config = Config::default();
    if function.uses_database() {
        config.db = Some(match env("SUPABASE_SECRET_ARN") {
            Some(arn) => {
                let text = secrets.read(&arn).await?;
                let secret: SupabaseSecret = serde_json::from_str(&text).map_err(|e| ConfigError::Malformed {
                    arn: arn.clone(),
                    message: format!("expected JSON with url and anon_key: {e}"),
                })?;
                let rest_url = match (secret.rest_url, secret.url.or_else(|| env("SUPABASE_URL"))) {
                    (Some(rest), _) => rest,
                    (None, Some(url)) => format!("{}/rest/v1", url.trim_end_matches('/')),
                    (None, None) => return Err(ConfigError::Missing("SUPABASE_URL", "and the secret has no url")),
                };
                DbConfig { rest_url, anon_key: secret.anon_key }
            }
            None => DbConfig {
                rest_url: env("POSTGREST_URL")
                    .or_else(|| env("SUPABASE_URL").map(|url| format!("{}/rest/v1", url.trim_end_matches('/'))))
                    .ok_or(ConfigError::Missing("SUPABASE_URL", "the Supabase project's URL (or POSTGREST_URL)"))?,
                anon_key: env("SUPABASE_ANON_KEY").unwrap_or_default(),
            },
        });
    }
    if function.uses_okta() {
        let timeout = env("OKTA_TIMEOUT_MS")
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(timeouts::OKTA_REQUEST);
        config.okta = Some(okta(&mut secrets, timeout).await?);
    }
    if function.acts_as_service() {
        let need = |k: &'static str, why: &'static str| env(k).ok_or(ConfigError::Missing(k, why));
        config.service = Some(ServiceConfig {
            token_url: need("OKTA_TOKEN_URL", "the authorization server's token endpoint")?,
            client_id: need("OKTA_CLIENT_ID", "the module's service application at the identity provider")?,
            key_id: need("SERVICE_KEY_ID", "the module's service key in KMS")?,
            scope: env("SERVICE_SCOPE").unwrap_or_else(|| "career.service".into()),
        });
    }
    for consumer in function.queues() {
        let variable = consumer.queue_url_variable();
        let url = env(&variable).ok_or_else(|| ConfigError::MissingQueue(variable.clone()))?;
        config.queues.push((consumer.binary.to_owned(), url));
    }
    if let Some(prefix) = function.documents_prefix() {
        config.documents = Some(DocumentsConfig {
            bucket: env("DOCUMENTS_BUCKET").ok_or(ConfigError::Missing("DOCUMENTS_BUCKET", "the documents bucket"))?,
            prefix: env("DOCUMENTS_PREFIX").unwrap_or(prefix),
            endpoint: env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")),
        });
    }
    if config.service.is_some() || !config.queues.is_empty() || config.documents.is_some() {
        config.aws = Some(AwsConfig::from_environment());
    }
    Ok(config)
}

/// The Okta Users API's settings: the token from Secrets Manager in AWS, from the environment locally.
async fn okta(secrets: &mut Secrets<'_>, timeout: Duration) -> Result<OktaConfig, ConfigError> {
    Ok(match env("OKTA_API_TOKEN_SECRET_ARN") {
        Some(arn) => {
            let text = secrets.read(&arn).await?;
            let token = match serde_json::from_str::<OktaSecret>(&text) {
                Ok(secret) => secret.api_token,
                Err(_) => text.trim().to_owned(),
            };
            if token.is_empty() || token.contains(char::is_whitespace) {
                return Err(ConfigError::Malformed {
                    arn,
                    message: "expected the Okta API token, or {\"api_token\": …}".into(),
                });
            }
            let domain = env("OKTA_DOMAIN").ok_or(ConfigError::Missing("OKTA_DOMAIN", "the Okta org's host"))?;
            OktaConfig { base_url: format!("https://{domain}"), token, timeout }
        }
        None => OktaConfig {
            base_url: env("OKTA_BASE_URL").ok_or(ConfigError::Missing(
                "OKTA_BASE_URL",
                "set it with OKTA_API_TOKEN, or OKTA_API_TOKEN_SECRET_ARN and OKTA_DOMAIN in AWS",
            ))?,
            token: env("OKTA_API_TOKEN").ok_or(ConfigError::Missing("OKTA_API_TOKEN", "the Okta API token"))?,
            timeout,
        },
    })
}

/// The Secrets Manager client, built on first use (only functions with a secret pay for it).
struct Secrets<'a> {
    http: &'a reqwest::Client,
    client: Option<aws_sdk_secretsmanager::Client>,
}

impl Secrets<'_> {
    /// One `GetSecretValue` (AWSCURRENT), with the SDK's retry of one more attempt inside
    /// [`timeouts::SECRET_OPERATION`].
    async fn read(&mut self, arn: &str) -> Result<String, ConfigError> {
        let http = self.http;
        let client = self.client.get_or_insert_with(|| sdk_client(http));
        let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
            // A 4xx answer (ResourceNotFound, AccessDenied, DecryptionFailure …) is the operator's to fix; a 5xx or
            // no answer at all may pass.
            if let aws_sdk_secretsmanager::error::SdkError::ServiceError(service) = &e {
                if service.raw().status().as_u16() < 500 {
                    return ConfigError::Refused {
                        arn: arn.to_owned(),
                        message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                    };
                }
            }
            let timed_out = matches!(e, aws_sdk_secretsmanager::error::SdkError::TimeoutError(_))
                || error_chain(&e).contains("timed out");
            ConfigError::Unreachable {
                arn: arn.to_owned(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                timed_out,
            }
        })?;
        out.secret_string().map(str::to_owned).ok_or_else(|| ConfigError::Malformed {
            arn: arn.to_owned(),
            message: "the secret has no string value".into(),
        })
    }
}

/// The SDK client as a Lambda container needs it: region and credentials from the environment Lambda sets
/// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the standard endpoint
/// override variables, bounded attempts, and the container's HTTP client. No credential chain is probed.
fn sdk_client(http: &reqwest::Client) -> aws_sdk_secretsmanager::Client {
    let credentials = Credentials::new(
        env("AWS_ACCESS_KEY_ID").unwrap_or_default(),
        env("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        env("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut builder = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(env("AWS_REGION").unwrap_or_else(|| "us-east-1".into())))
        .credentials_provider(credentials)
        .http_client(SdkHttpClient::new(http.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeouts::CONNECT)
                .operation_attempt_timeout(timeouts::SECRET_ATTEMPT)
                .operation_timeout(timeouts::SECRET_OPERATION)
                .build(),
        );
    if let Some(endpoint) = env("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| env("AWS_ENDPOINT_URL")) {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_secretsmanager::Client::from_conf(builder.build())
}
