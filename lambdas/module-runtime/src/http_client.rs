//! The one HTTP/TLS stack of a function: a single `reqwest` 0.11 client per container (hyper 0.14, rustls 0.21,
//! the compiled-in webpki roots), shared by the PostgREST client, the Okta client and the AWS SDK.
//!
//! `postgrest` brings reqwest 0.11 and is the users' choice, so the SDK is made to ride on it through its
//! pluggable HTTP client ([`SdkHttpClient`]) instead of linking its own hyper 1 + rustls 0.23 + aws-lc stack
//! and parsing the system's CA bundle at start-up (BENCHMARKS.md, "Cold start", has the figures).
//!
//! `EXTRA_CA_CERTS` may name a PEM file of additional trust roots; only local TLS stand-ins (the cold-start
//! benchmark) use it. It is never set in AWS.

use std::time::Duration;

use aws_sdk_secretsmanager::config::{HttpClient, RuntimeComponents};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::timeouts;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot read EXTRA_CA_CERTS ({path}): {message}")]
    ExtraRoots { path: String, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// The container's client: connect timeout, connection reuse, the webpki roots (plus `EXTRA_CA_CERTS`).
/// Request timeouts are set per request, per dependency (see [`crate::timeouts`]).
pub fn client() -> Result<reqwest::Client, HttpError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(timeouts::CONNECT)
        .pool_idle_timeout(Duration::from_secs(50))
        .tcp_nodelay(true)
        .user_agent(concat!("career-platform/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = std::env::var_os("EXTRA_CA_CERTS").filter(|p| !p.is_empty()) {
        let shown = path.to_string_lossy().into_owned();
        let pem =
            std::fs::read(&path).map_err(|e| HttpError::ExtraRoots { path: shown.clone(), message: e.to_string() })?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| HttpError::ExtraRoots { path: shown, message: e.to_string() })?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| HttpError::Build(e.to_string()))
}

/// The AWS SDK's HTTP client, on the container's reqwest client.
#[derive(Debug, Clone)]
pub struct SdkHttpClient {
    client: reqwest::Client,
}

impl SdkHttpClient {
    pub fn new(client: reqwest::Client) -> Self {
        SdkHttpClient { client }
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        // The SDK's operation and attempt timeouts bound the whole call; its read timeout, when set, bounds ours.
        SharedHttpConnector::new(SdkConnector { client: self.client.clone(), read_timeout: settings.read_timeout() })
    }
}

#[derive(Debug)]
struct SdkConnector {
    client: reqwest::Client,
    read_timeout: Option<Duration>,
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let method = reqwest::Method::from_bytes(request.method().as_bytes())
                .map_err(|e| ConnectorError::user(Box::new(e)))?;
            let mut builder = client.request(method, request.uri());
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            let body = request.body().bytes().map(<[u8]>::to_vec).unwrap_or_default();
            builder = builder.body(body);
            if let Some(timeout) = read_timeout {
                builder = builder.timeout(timeout);
            }
            let response = builder.send().await.map_err(connector_error)?;
            let status = StatusCode::try_from(response.status().as_u16())
                .map_err(|e| ConnectorError::other(Box::new(e), None))?;
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(connector_error)?;
            let mut out = HttpResponse::new(status, SdkBody::from(bytes));
            for (name, value) in &headers {
                if let Ok(value) = value.to_str() {
                    out.headers_mut().append(name.as_str().to_owned(), value.to_owned());
                }
            }
            Ok(out)
        })
    }
}

/// Timeouts are timeouts to the SDK (so its timeout handling and retry classification apply); everything else
/// is an I/O failure.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(Box::new(e))
    } else {
        ConnectorError::io(Box::new(e))
    }
}
