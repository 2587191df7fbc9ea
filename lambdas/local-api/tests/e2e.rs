//! End to end over real HTTP against the local API (real authorizer, real handlers) on PostgreSQL + PostgREST:
//! every registry route once with a valid development token, and 401 without one, 403 with a forged one.
//!
//! Needs the services of `cargo xtask ci` / `cargo xtask test` (`CAREER_TEST_*` variables); never skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run through `cargo xtask ci` or `cargo xtask test`"))
}

fn token(sub: &str, groups: &[&str]) -> String {
    let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../xtask/dev-issuer/private.pem")).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(stacks::dev_issuer::KID.into());
    let claims = json!({
        "iss": stacks::dev_issuer::ISSUER, "aud": stacks::dev_issuer::AUDIENCE, "sub": sub,
        "email": format!("{sub}@example.com"), "groups": groups, "iat": now, "exp": now + 600,
    });
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

struct Api {
    base: String,
    http: reqwest::Client,
    seen: std::sync::Mutex<BTreeSet<String>>,
}

impl Api {
    async fn call(&self, token: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let value = response.json::<Value>().await.unwrap_or(Value::Null);
        if token.is_some() && (200..300).contains(&status) {
            if let Some(r) =
                route_registry::all_routes().find(|r| r.method.as_str() == method && r.match_path(path).is_some())
            {
                self.seen.lock().unwrap().insert(r.key());
            }
        }
        (status, value)
    }

    async fn ok(&self, token: &str, method: &str, path: &str, body: Option<Value>, want: u16) -> Value {
        let (status, value) = self.call(Some(token), method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {value}");
        value["data"].clone()
    }
}

async fn start() -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let db = org_common::DbConfig {
        rest_url: var("CAREER_TEST_POSTGREST_URL"),
        anon_key: String::new(),
        jwt_secret: var("CAREER_TEST_JWT_SECRET"),
    };
    let jwks =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../xtask/dev-issuer/jwks.json")).unwrap();
    let app = Arc::new(local_api::App::new(addr, &db, jwks).unwrap());
    tokio::spawn(local_api::serve(listener, app));
    Api { base: format!("http://{addr}"), http: reqwest::Client::new(), seen: Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_once_with_a_token_and_refused_without() {
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let admin = token(&format!("admin-{tag}"), &["admin"]);
    let owner_sub = format!("owner-{tag}");
    let member_sub = format!("member-{tag}");
    let (owner, member) = (token(&owner_sub, &[]), token(&member_sub, &[]));

    let o = api
        .ok(
            &admin,
            "POST",
            "/identities",
            Some(json!({"idp_subject": owner_sub, "email": format!("{owner_sub}@example.com")})),
            201,
        )
        .await;
    let m = api
        .ok(
            &admin,
            "POST",
            "/identities",
            Some(json!({"idp_subject": member_sub, "email": format!("{member_sub}@example.com")})),
            201,
        )
        .await;
    let (owner_id, member_id) = (o["id"].as_str().unwrap().to_owned(), m["id"].as_str().unwrap().to_owned());
    api.ok(&owner, "GET", &format!("/identities/{owner_id}"), None, 200).await;
    api.ok(&owner, "PUT", "/profiles/me", Some(json!({"first_name": "Olive", "last_name": "Owner"})), 200).await;
    assert_eq!(api.ok(&owner, "GET", "/profiles/me", None, 200).await["first_name"], "Olive");
    let org = api.ok(&owner, "POST", "/organizations", Some(json!({"name": format!("E2E {tag}")})), 201).await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    assert_eq!(api.ok(&owner, "GET", "/organizations", None, 200).await.as_array().unwrap().len(), 1);
    api.ok(&owner, "PUT", &format!("/organizations/{org_id}"), Some(json!({"description": "end to end"})), 200).await;
    api.ok(&owner, "POST", &format!("/organizations/{org_id}/members"), Some(json!({"user_id": member_id})), 201).await;
    assert_eq!(
        api.ok(&member, "GET", &format!("/organizations/{org_id}/members"), None, 200).await.as_array().unwrap().len(),
        2
    );
    api.ok(&owner, "DELETE", &format!("/organizations/{org_id}/members/{member_id}"), None, 200).await;
    api.ok(&member, "DELETE", "/profiles/me", None, 200).await;
    api.ok(&admin, "DELETE", &format!("/identities/{member_id}"), None, 200).await;

    let registry: BTreeSet<String> = route_registry::all_routes().map(|r| r.key()).collect();
    assert_eq!(*api.seen.lock().unwrap(), registry, "every route exercised once with success");

    // Without a token: 401 on every route; with a forged one: 403. Neither reaches a handler.
    let forged = format!("{}x", &admin[..admin.len() - 1]);
    for route in route_registry::all_routes() {
        let path = route.path.replace("{id}", &org_id).replace("{userId}", &owner_id);
        let (status, body) = api.call(None, route.method.as_str(), &path, Some(json!({}))).await;
        assert_eq!((status, body["message"].as_str()), (401, Some("Unauthorized")), "{}", route.key());
        let (status, _) = api.call(Some(&forged), route.method.as_str(), &path, Some(json!({}))).await;
        assert_eq!(status, 403, "{} with a forged token", route.key());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_behaviour_cors_and_openapi() {
    let api = start().await;
    let (status, body) = api.call(Some(&token("x", &[])), "GET", "/nope", None).await;
    assert_eq!((status, body["message"].as_str()), (404, Some("Not Found")));
    let preflight = |origin: &'static str| {
        api.http
            .request(reqwest::Method::OPTIONS, format!("{}/organizations", api.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(allowed.status().as_u16(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://localhost:3000");
    assert_eq!(allowed.headers()["access-control-max-age"], "3600");
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let doc: Value = api.http.get(format!("{}/openapi.json", api.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["paths"].as_object().unwrap().len(), 7, "7 paths carry the 12 routes");
}
