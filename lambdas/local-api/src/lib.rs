//! The whole API in one local process: every request goes through the real authorizer code (trusting the local
//! development issuer, whose JWKS this server also serves) and then the real handler code, on the same API Gateway
//! HTTP API v2 event types the Lambdas receive in AWS (`module_runtime::events`). One code path, not a second
//! implementation; the modules come from the catalog through the generated `all-modules` crate.
//!
//! Like API Gateway it answers unmatched routes with 404 `{"message":"Not Found"}`, a missing token with 401, a
//! denied one with 403, and CORS preflights and headers from the `dev` allow-list. It also serves `/openapi.json`.
//!
//! Functions without a caller run here too ([`triggers`]): queue pollers, schedules (at their rate, or on demand with
//! `POST /_local/schedules/<binary>`), created objects (`POST /_local/events/s3`), and `GET /_local/queues` shows
//! every queue's depth. The `/_local/` paths are this server's, never the API's (no catalog route starts with it).

pub mod triggers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use module_runtime::documents::DocumentsConfig;
use module_runtime::service_identity::ServiceConfig;
use module_runtime::{events, Config, Container, Handler};
use platform_authorizer::{Authorizer, Config as AuthConfig};
use route_registry::Function;
use serde_json::json;
use tokio::net::TcpListener;

/// Request bodies above this are refused, as API Gateway refuses them (the handlers take 16 KiB, or what a route's
/// `upload` says).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Everything a request needs, built once.
pub struct App {
    containers: Vec<Container>,
    http: reqwest::Client,
    triggers: Option<triggers::Triggers>,
    authorizer: Authorizer,
    jwks: String,
    openapi: String,
    cors_origins: Vec<String>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    /// `addr` is where the server listens (the authorizer fetches the JWKS from it); `config` is what every
    /// function gets (the database, and Okta for the functions that use it); `triggers`, when given, the local
    /// services of functions without a caller (queues created: [`triggers::Triggers::create_queues`]).
    pub fn new(addr: SocketAddr, config: &Config, triggers: Option<triggers::Triggers>) -> Result<App, String> {
        let base = format!("http://{addr}");
        let auth = AuthConfig::new(
            dev_issuer::ISSUER.into(),
            dev_issuer::audience("dev"),
            format!("{base}/.well-known/jwks.json"),
        );
        let http = module_runtime::http_client::client().map_err(|e| e.to_string())?;
        let containers = route_registry::MODULES
            .iter()
            .flat_map(|m| m.functions.iter())
            .map(|f| {
                let mut own = Config::default();
                if f.uses_database() {
                    own.db = config.db.clone();
                }
                if f.uses_okta() {
                    own.okta = config.okta.clone();
                }
                if let Some(t) = &triggers {
                    if f.acts_as_service() {
                        let key = t.service_keys.iter().find(|(m, _)| m == f.module).map(|(_, k)| k.clone());
                        own.service = key.map(|key_id| ServiceConfig {
                            token_url: t.token_url.clone(),
                            client_id: settings::Env::Dev.settings().service_client_id(f.module),
                            key_id,
                            scope: settings::Env::Dev.settings().service_scope.to_owned(),
                        });
                    }
                    own.queues = f
                        .queues()
                        .filter_map(|c| t.queue_url(c).map(|u| (c.binary.to_owned(), u.to_owned())))
                        .collect();
                    if let (Some(prefix), Some(d)) = (f.documents_prefix(), &t.documents) {
                        own.documents = Some(DocumentsConfig {
                            bucket: d.bucket.clone(),
                            prefix,
                            endpoint: Some(d.endpoint.clone()),
                        });
                    }
                    if own.service.is_some() || !own.queues.is_empty() || own.documents.is_some() {
                        own.aws = Some(t.aws.clone());
                    }
                }
                Container::with_config(*f, http.clone(), own)
            })
            .collect();
        Ok(App {
            containers,
            http,
            triggers,
            authorizer: Authorizer::new(auth)?,
            jwks: dev_issuer::JWKS.to_owned(),
            openapi: route_registry::openapi::document(&base).to_string(),
            cors_origins: settings::Env::Dev.settings().cors_origins.iter().map(|o| (*o).to_owned()).collect(),
        })
    }

    pub fn container(&self, function: Function) -> Option<&Container> {
        self.containers.iter().find(|c| c.function() == function)
    }
}

/// Accepts connections forever (until the task is dropped).
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&app, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(status: u16, body: String, content_type: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn gateway(status: u16, message: &str) -> Response<Full<Bytes>> {
    respond(status, json!({ "message": message }).to_string(), "application/json")
}

async fn handle(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut response = route(app, req, &method, &path).await;
    if let Some(origin) = origin.filter(|o| app.cors_origins.contains(o)) {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&origin) {
            response.headers_mut().insert("access-control-allow-origin", v);
            response.headers_mut().insert("vary", hyper::header::HeaderValue::from_static("origin"));
        }
    }
    let status = response.status().as_u16();
    tracing::info!(method, path, status, duration = start.elapsed().as_secs_f64() * 1000.0, "access");
    response
}

async fn route(app: &App, req: Request<Incoming>, method: &str, path: &str) -> Response<Full<Bytes>> {
    if let Some(answer) = local_endpoint(app, method, path).await {
        return answer;
    }
    if (method, path) == ("POST", "/_local/events/s3") {
        return s3_event(app, req).await;
    }
    let Some(route) = route_registry::find_route(method, path) else {
        return gateway(404, "Not Found");
    };
    api_request(app, req, route, method, path).await
}

/// What the local API answers itself: its documents, the queues' depths, a schedule run now, CORS preflights.
async fn local_endpoint(app: &App, method: &str, path: &str) -> Option<Response<Full<Bytes>>> {
    Some(match (method, path) {
        ("GET", "/openapi.json") => respond(200, app.openapi.clone(), "application/json"),
        ("GET", "/.well-known/jwks.json") => respond(200, app.jwks.clone(), "application/json"),
        ("GET", "/_local/queues") => respond(200, app.queue_depths().await.to_string(), "application/json"),
        ("POST", p) if p.starts_with("/_local/schedules/") => {
            let binary = p.trim_start_matches("/_local/schedules/");
            match app.run_schedule(binary).await {
                Ok(()) => respond(200, json!({"function": binary, "ok": true}).to_string(), "application/json"),
                Err(e) => {
                    respond(500, json!({"function": binary, "ok": false, "error": e}).to_string(), "application/json")
                }
            }
        }
        ("OPTIONS", _) => {
            let mut r = respond(204, String::new(), "text/plain");
            let h = r.headers_mut();
            h.insert(
                "access-control-allow-methods",
                hyper::header::HeaderValue::from_static("GET,POST,PUT,DELETE,OPTIONS"),
            );
            h.insert(
                "access-control-allow-headers",
                hyper::header::HeaderValue::from_static("authorization,content-type"),
            );
            h.insert("access-control-max-age", hyper::header::HeaderValue::from_static("3600"));
            r
        }
        _ => return None,
    })
}

/// `POST /_local/events/s3`: an `S3Event` delivered to the functions whose prefix it falls under.
async fn s3_event(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return gateway(413, "Request Entity Too Large"),
    };
    let Ok(event) = serde_json::from_slice(&body) else { return gateway(400, "Not an S3 event") };
    let results: serde_json::Map<String, serde_json::Value> = app
        .objects_created(event)
        .await
        .into_iter()
        .map(|(f, r)| (f, r.map_or_else(|e| json!({"ok": false, "error": e}), |()| json!({"ok": true}))))
        .collect();
    respond(200, serde_json::Value::Object(results).to_string(), "application/json")
}

/// A catalog route, as API Gateway serves it: the authorizer first (401 without a token, 403 when it denies), then
/// the route's function with the API Gateway v2 event it would receive. A public route (`Auth::Public`) has no
/// authorizer: its event carries no authorizer context, whatever the request holds.
async fn api_request(
    app: &App,
    req: Request<Incoming>,
    route: &route_registry::Route,
    method: &str,
    path: &str,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return gateway(413, "Request Entity Too Large"),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
        .collect();
    let context = match route.is_public() {
        true => None,
        false => {
            let authorization = headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone());
            let Some(authorization) = authorization else { return gateway(401, "Unauthorized") };
            let decision = app.authorizer.handle(&events::authorizer_request(method, path, Some(&authorization))).await;
            if !decision.is_authorized {
                return gateway(403, "Forbidden");
            }
            Some(serde_json::to_value(&decision.context).unwrap_or_default())
        }
    };
    let header_refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // A body that is not UTF-8 travels base64-encoded and flagged, as API Gateway sends binary content: the handler
    // sees the bytes themselves (and refuses them as JSON), never a text with replacement characters.
    let (body, binary) = match std::str::from_utf8(&body) {
        _ if body.is_empty() => (None, false),
        Ok(text) => (Some(text.to_owned()), false),
        Err(_) => (Some(base64::engine::general_purpose::STANDARD.encode(&body)), true),
    };
    let mut event = events::http_request(method, path, &header_refs, body);
    event.is_base64_encoded = binary;
    event.raw_query_string = Some(parts.uri.query().unwrap_or("").to_owned());
    if let Some(context) = &context {
        events::authorize(&mut event, context);
    }
    let Some(container) = app.container(route.function) else {
        return gateway(500, "Internal Server Error");
    };
    match all_modules::registration(route.function).map(|r| r.handler) {
        Some(Handler::Http(handler)) => into_response(handler.handle(container, events::into_request(event)).await),
        _ => gateway(500, "Internal Server Error"),
    }
}

/// A handler's answer as the gateway returns it: status, body, type, and the `Retry-After` and `Location` headers.
fn into_response(answer: lambda_http::Response<lambda_http::Body>) -> Response<Full<Bytes>> {
    let status = answer.status().as_u16();
    let retry_after = answer.headers().get("retry-after").cloned();
    let location = answer.headers().get("location").cloned();
    let content_type =
        answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json").to_owned();
    let text = match answer.into_body() {
        lambda_http::Body::Text(t) => t,
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    };
    let mut response = respond(status, text, &content_type);
    for (name, value) in [(hyper::header::RETRY_AFTER, retry_after), (hyper::header::LOCATION, location)] {
        if let Some(v) = value.and_then(|v| hyper::header::HeaderValue::from_bytes(v.as_bytes()).ok()) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}
