//! Test helpers: API Gateway HTTP API v2 events built from the fixture in `tests/data/`, parsed with
//! `lambda_http::request::from_str` exactly as the runtime parses them, and sent through the real handlers.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use lambda_http::{Body, Request};
use org_common::Db;
use serde_json::{json, Value};

/// A caller as the authorizer describes them; `None` fields are left out of the context.
#[derive(Debug, Clone)]
pub struct User {
    pub sub: String,
    pub email: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn new(sub: &str, email: &str) -> User {
        User { sub: sub.into(), email: email.into(), groups: vec![] }
    }

    pub fn admin(sub: &str) -> User {
        User { sub: sub.into(), email: format!("{sub}@example.com"), groups: vec!["admin".into()] }
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// An event for `method path` from the base fixture, with the registry's route key when one matches, the
/// caller's authorizer context (or none), and a JSON body.
pub fn event(user: Option<&User>, method: &str, path: &str, body: Option<&str>) -> Request {
    let mut e: Value = serde_json::from_str(&fixture("http-api-v2.json")).unwrap();
    let route = route_registry::all_routes().find(|r| r.method.as_str() == method && r.match_path(path).is_some());
    let key = route.map(|r| r.key()).unwrap_or_else(|| "$default".into());
    e["routeKey"] = json!(key);
    e["rawPath"] = json!(path);
    e["requestContext"]["routeKey"] = json!(key);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    if let Some(r) = route {
        let params: serde_json::Map<String, Value> =
            r.match_path(path).unwrap().into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
        if !params.is_empty() {
            e["pathParameters"] = Value::Object(params);
        }
    }
    match user {
        Some(u) => {
            e["requestContext"]["authorizer"]["lambda"] = json!({
                "sub": u.sub,
                "email": u.email,
                "groups": serde_json::to_string(&u.groups).unwrap(),
            })
        }
        None => {
            e["requestContext"].as_object_mut().unwrap().remove("authorizer");
        }
    }
    if let Some(b) = body {
        e["body"] = json!(b);
        e["headers"]["content-type"] = json!("application/json");
    }
    lambda_http::request::from_str(&e.to_string()).unwrap()
}

/// Sends a request to the function that owns the route (or `fallback` when no registry route matches).
pub async fn send(db: &Db, req: Request, fallback: route_registry::Function) -> (u16, Value) {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let function = route_registry::all_routes()
        .find(|r| r.method.as_str() == method && r.match_path(&path).is_some())
        .map(|r| r.function)
        .unwrap_or(fallback);
    let response = org_module::handle(function, db, req).await.expect("an org-module function");
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json", "{method} {path}");
    let body: Value = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("{method} {path}: non-text body {other:?}"),
    };
    // Every answer is an envelope.
    assert_eq!(body["success"], json!((200..300).contains(&status)), "{method} {path}: {body}");
    (status, body)
}
