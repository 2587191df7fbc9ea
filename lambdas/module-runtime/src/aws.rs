//! The AWS JSON APIs a function calls besides Secrets Manager: SQS (sending to a queue) and KMS (signing with the
//! module's service key). Two operations each do not justify an SDK crate each (aws-sdk-sqs and aws-sdk-kms would
//! add their generated clients to every binary and to the build; BENCHMARKS.md, "Queues", has the figures): the
//! requests are a JSON body, Signature Version 4 from `aws-sigv4` (already in the tree under the Secrets Manager
//! SDK), the credentials Lambda puts in the environment, and the container's one HTTP client.
//!
//! Endpoints follow the SDKs' convention: `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_KMS`, then
//! `AWS_ENDPOINT_URL`, then `https://<service>.<region>.amazonaws.com` (the local API and the tests point them at
//! their stand-ins).

use std::time::{Instant, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::Value;

use crate::error::Dependency;
use crate::{timeouts, ApiError};

/// One AWS service's JSON API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// SQS (`AmazonSQS.*`, JSON protocol 1.0).
    Sqs,
    /// KMS (`TrentService.*`, JSON 1.1).
    Kms,
}

impl Service {
    fn signing_name(self) -> &'static str {
        match self {
            Service::Sqs => "sqs",
            Service::Kms => "kms",
        }
    }

    fn target_prefix(self) -> &'static str {
        match self {
            Service::Sqs => "AmazonSQS",
            Service::Kms => "TrentService",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Service::Sqs => "application/x-amz-json-1.0",
            Service::Kms => "application/x-amz-json-1.1",
        }
    }

    fn dependency(self) -> Dependency {
        match self {
            Service::Sqs => Dependency::Queue,
            Service::Kms => Dependency::Keys,
        }
    }

    fn endpoint_variable(self) -> &'static str {
        match self {
            Service::Sqs => "AWS_ENDPOINT_URL_SQS",
            Service::Kms => "AWS_ENDPOINT_URL_KMS",
        }
    }
}

/// Where and as whom to call AWS.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsConfig {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Endpoint overrides by service (`None`: AWS's regional endpoint).
    pub sqs_endpoint: Option<String>,
    pub kms_endpoint: Option<String>,
}

impl std::fmt::Debug for AwsConfig {
    // The credentials never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsConfig")
            .field("region", &self.region)
            .field("sqs_endpoint", &self.sqs_endpoint)
            .field("kms_endpoint", &self.kms_endpoint)
            .finish_non_exhaustive()
    }
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

impl AwsConfig {
    /// From the environment Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`) and the endpoint override variables.
    pub fn from_environment() -> AwsConfig {
        let endpoint = |service: Service| env(service.endpoint_variable()).or_else(|| env("AWS_ENDPOINT_URL"));
        AwsConfig {
            region: env("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            access_key_id: env("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            secret_access_key: env("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            session_token: env("AWS_SESSION_TOKEN"),
            sqs_endpoint: endpoint(Service::Sqs),
            kms_endpoint: endpoint(Service::Kms),
        }
    }

    fn endpoint(&self, service: Service) -> String {
        let given = match service {
            Service::Sqs => &self.sqs_endpoint,
            Service::Kms => &self.kms_endpoint,
        };
        match given {
            Some(url) => format!("{}/", url.trim_end_matches('/')),
            None => format!("https://{}.{}.amazonaws.com/", service.signing_name(), self.region),
        }
    }
}

/// Calls AWS JSON APIs with the container's HTTP client.
#[derive(Debug, Clone)]
pub struct Aws {
    http: reqwest::Client,
    config: AwsConfig,
}

impl Aws {
    pub fn new(http: reqwest::Client, config: AwsConfig) -> Aws {
        Aws { http, config }
    }

    /// One operation (`SendMessageBatch`, `Sign`), waiting at most `bound` and never past `deadline`. AWS's
    /// refusals are 502 (a request AWS would not take is this function's fault, not the client's), its throttling
    /// and unavailability 503, no answer in time 504.
    pub async fn call(
        &self,
        service: Service,
        operation: &str,
        body: &Value,
        bound: std::time::Duration,
        deadline: Instant,
    ) -> Result<Value, ApiError> {
        let dependency = service.dependency();
        let wait = timeouts::bound(bound, deadline).ok_or_else(|| ApiError::Timeout {
            dependency,
            detail: format!("the deadline passed before {}.{operation}", service.target_prefix()),
        })?;
        let url = self.config.endpoint(service);
        let payload = serde_json::to_vec(body).map_err(ApiError::internal)?;
        let host = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .unwrap_or_default()
            .to_owned();
        let target = format!("{}.{operation}", service.target_prefix());
        let headers =
            [("content-type", service.content_type()), ("host", host.as_str()), ("x-amz-target", target.as_str())];
        let signed = self.signature_headers(service, &url, &headers, &payload)?;
        let mut request = self.http.post(&url).timeout(wait).body(payload);
        for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
            request = request.header(*k, *v);
        }
        for (k, v) in &signed {
            request = request.header(k.as_str(), v.as_str());
        }
        let response = request.send().await.map_err(|e| ApiError::transport(dependency, &e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| ApiError::transport(dependency, &e))?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| ApiError::BadGateway {
                dependency,
                detail: format!("{target} answered {status} with non-JSON: {e}"),
            });
        }
        Err(map_error(dependency, &target, status, &text))
    }

    fn signature_headers(
        &self,
        service: Service,
        url: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<Vec<(String, String)>, ApiError> {
        let credentials = aws_credential_types::Credentials::new(
            &self.config.access_key_id,
            &self.config.secret_access_key,
            self.config.session_token.clone(),
            None,
            "lambda-environment",
        );
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.config.region)
            .name(service.signing_name())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(ApiError::internal)?
            .into();
        let signable = SignableRequest::new("POST", url, headers.iter().copied(), SignableBody::Bytes(payload))
            .map_err(ApiError::internal)?;
        let (instructions, _) = sign(signable, &params).map_err(ApiError::internal)?.into_parts();
        Ok(instructions.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }
}

/// An AWS JSON error answer (`{"__type": "…#Code", "message": "…"}`) as an API error.
pub fn map_error(dependency: Dependency, target: &str, status: u16, body: &str) -> ApiError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed
        .get("__type")
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t))
        .unwrap_or("")
        .to_owned();
    let message =
        parsed.get("message").or_else(|| parsed.get("Message")).and_then(Value::as_str).unwrap_or("").to_owned();
    let detail = format!("{target} answered {status} {code}: {message}");
    let throttled = status == 429
        || status == 503
        || ["ThrottlingException", "RequestThrottled", "KMSInternalException", "KeyUnavailableException"]
            .contains(&code.as_str());
    if throttled || status >= 500 {
        ApiError::Unavailable { dependency, retry_after_s: timeouts::RETRY_AFTER_S, detail }
    } else {
        ApiError::BadGateway { dependency, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_refusals_are_502_and_throttling_503() {
        let denied = r#"{"__type":"com.amazon.coral.service#AccessDeniedException","message":"not authorized"}"#;
        assert_eq!(map_error(Dependency::Keys, "TrentService.Sign", 400, denied).status(), 502);
        let throttled = r#"{"__type":"ThrottlingException","message":"slow down"}"#;
        assert_eq!(map_error(Dependency::Keys, "TrentService.Sign", 400, throttled).status(), 503);
        assert_eq!(map_error(Dependency::Queue, "AmazonSQS.SendMessageBatch", 500, "oops").status(), 503);
        let missing = r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no queue"}"#;
        let e = map_error(Dependency::Queue, "AmazonSQS.SendMessageBatch", 400, missing);
        assert!(matches!(&e, ApiError::BadGateway { detail, .. } if detail.contains("QueueDoesNotExist")), "{e:?}");
    }

    #[test]
    fn endpoints_follow_the_sdk_convention() {
        let config = AwsConfig {
            region: "eu-west-1".into(),
            access_key_id: "a".into(),
            secret_access_key: "s".into(),
            session_token: None,
            sqs_endpoint: Some("http://127.0.0.1:9/".into()),
            kms_endpoint: None,
        };
        assert_eq!(config.endpoint(Service::Sqs), "http://127.0.0.1:9/");
        assert_eq!(config.endpoint(Service::Kms), "https://kms.eu-west-1.amazonaws.com/");
        assert!(!format!("{config:?}").contains("\"s\""), "no secret in Debug");
    }
}
