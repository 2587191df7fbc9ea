//! The whole API in one local process: every request goes through the real authorizer code (trusting the local
//! development issuer, whose JWKS this server also serves) and then the real handler code, converted to and from
//! the API Gateway HTTP API v2 event shapes the Lambdas receive in AWS. One code path, not a second implementation.
//!
//! Like API Gateway it answers unmatched routes with 404 `{"message":"Not Found"}`, a missing token with 401, a
//! denied one with 403, and CORS preflights and headers from the `dev` allow-list. It also serves `/openapi.json`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use org_common::Db;
use platform_authorizer::{Authorizer, Config as AuthConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Request bodies above this are refused (API Gateway's own limit is 10 MB; the handlers take 16 KiB).
const MAX_BODY: usize = 1024 * 1024;

/// Everything a request needs, built once.
pub struct App {
    db: Db,
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
    /// `addr` is where the server listens (the authorizer fetches the JWKS from it); `jwks` is the development
    /// issuer's key set.
    pub fn new(addr: SocketAddr, db: &org_common::DbConfig, jwks: String) -> Result<App, String> {
        let base = format!("http://{addr}");
        let auth = AuthConfig::new(
            stacks::dev_issuer::ISSUER.into(),
            stacks::dev_issuer::AUDIENCE.into(),
            format!("{base}/.well-known/jwks.json"),
        );
        Ok(App {
            db: Db::new(db)?,
            authorizer: Authorizer::new(auth)?,
            jwks,
            openapi: org_module::openapi::document(&base).to_string(),
            cors_origins: stacks::Env::Dev.settings().cors_origins.iter().map(|o| (*o).to_owned()).collect(),
        })
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

fn json_response(status: u16, body: String, content_type: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn gateway(status: u16, message: &str) -> Response<Full<Bytes>> {
    json_response(status, json!({ "message": message }).to_string(), "application/json")
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
    match (method, path) {
        ("GET", "/openapi.json") => return json_response(200, app.openapi.clone(), "application/json"),
        ("GET", "/.well-known/jwks.json") => return json_response(200, app.jwks.clone(), "application/json"),
        ("OPTIONS", _) => {
            let mut r = json_response(204, String::new(), "text/plain");
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
            return r;
        }
        _ => {}
    }
    let Some(route) =
        route_registry::all_routes().find(|r| r.method.as_str() == method && r.match_path(path).is_some())
    else {
        return gateway(404, "Not Found");
    };
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return gateway(413, "Request Entity Too Large"),
    };
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            let entry = headers.entry(name.as_str().to_owned()).or_insert_with(|| Value::String(String::new()));
            if let Value::String(s) = entry {
                if !s.is_empty() {
                    s.push(',');
                }
                s.push_str(v);
            }
        }
    }
    let authorization = headers.get("authorization").and_then(Value::as_str).map(str::to_owned);
    let Some(authorization) = authorization else { return gateway(401, "Unauthorized") };
    let request_id = uuid::Uuid::new_v4().to_string();
    let decision = app
        .authorizer
        .handle(&json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeKey": route.key(),
            "rawPath": path,
            "identitySource": [authorization],
            "headers": { "authorization": authorization },
            "requestContext": { "requestId": request_id },
        }))
        .await;
    if decision["isAuthorized"] != true {
        return gateway(403, "Forbidden");
    }
    let params: serde_json::Map<String, Value> =
        route.match_path(path).unwrap_or_default().into_iter().map(|(k, v)| (k.to_owned(), Value::from(v))).collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "authorizer": { "lambda": decision["context"] },
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "" },
            "requestId": request_id,
            "routeKey": route.key(),
            "stage": "$default",
            "time": "",
            "timeEpoch": now as u64,
        },
        "isBase64Encoded": false,
    });
    if !params.is_empty() {
        event["pathParameters"] = Value::Object(params);
    }
    if !body.is_empty() {
        event["body"] = Value::String(String::from_utf8_lossy(&body).into_owned());
    }
    let Ok(lambda_request) = lambda_http::request::from_str(&event.to_string()) else {
        return gateway(500, "Internal Server Error");
    };
    let Some(answer) = org_module::handle(route.function, &app.db, lambda_request).await else {
        return gateway(500, "Internal Server Error");
    };
    let status = answer.status().as_u16();
    let content_type =
        answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json").to_owned();
    let text = match answer.into_body() {
        lambda_http::Body::Text(t) => t,
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
        lambda_http::Body::Empty => String::new(),
        _ => String::new(),
    };
    json_response(status, text, &content_type)
}
