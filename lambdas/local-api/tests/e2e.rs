//! End to end over real HTTP against the local API (the real authorizer, trusting the development issuer's JWKS
//! this server serves, then the real handlers) on PostgreSQL + PostgREST, with the Okta stand-in: every catalog
//! route once with success, the provisioning flow from Okta to a refused deactivated caller, 401 without a token
//! and 403 with a forged one on every route.
//!
//! Needs the services of `cargo xtask ci` / `cargo xtask test` (`CAREER_TEST_*` variables); never skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use standins::okta::OktaStandin;

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run through `cargo xtask ci` or `cargo xtask test`"))
}

fn token(login: &str, groups: &[&str]) -> String {
    dev_issuer::Claims::new(login).email(login).groups(groups).audience(&dev_issuer::audience("dev")).sign().unwrap()
}

fn sql(statement: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> u64 {
    tokio::task::block_in_place(|| {
        let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
        c.execute(statement, params).unwrap()
    })
}

struct Api {
    base: String,
    http: reqwest::Client,
    seen: std::sync::Mutex<BTreeSet<String>>,
    _okta: Option<OktaStandin>,
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
            if let Some(r) = route_registry::find_route(method, path) {
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

async fn start(okta: Option<OktaStandin>) -> Api {
    // Request lines stay in memory instead of filling the test output.
    module_runtime::metrics::capture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = module_runtime::Config {
        db: Some(module_runtime::DbConfig { rest_url: var("CAREER_TEST_POSTGREST_URL"), anon_key: String::new() }),
        okta: okta.as_ref().map(|o| module_runtime::OktaConfig {
            base_url: o.base_url.clone(),
            token: o.token().to_owned(),
            timeout: Duration::from_secs(5),
        }),
    };
    let app = Arc::new(local_api::App::new(addr, &config).unwrap());
    tokio::spawn(local_api::serve(listener, app));
    Api { base: format!("http://{addr}"), http: reqwest::Client::new(), seen: Default::default(), _okta: okta }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_once_with_a_token_and_refused_without() {
    let okta = OktaStandin::start("e2e-token").unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let login = |name: &str| format!("{name}-{tag}@example.com");
    let linked = login("linked");
    okta.add_user(&linked, &linked, "Lin", "Ked", "ACTIVE");
    let api = start(Some(okta)).await;
    // The environment's first admin is recorded by hand (README, "Deploying"); everyone else is provisioned.
    let admin_login = login("admin");
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&admin_login]);
    let admin = token(&admin_login, &[module_runtime::DEFAULT_ADMIN_GROUP]);

    let provision = |name: &str| json!({"email": login(name), "first_name": name, "last_name": "E2e"});
    let owner_id =
        api.ok(&admin, "POST", "/identities", Some(provision("owner")), 201).await["id"].as_str().unwrap().to_owned();
    let member_id =
        api.ok(&admin, "POST", "/identities", Some(provision("member")), 201).await["id"].as_str().unwrap().to_owned();
    api.ok(&admin, "POST", "/identities/link", Some(json!({"login": linked})), 201).await;
    let (owner, member, linked_token) =
        (token(&login("owner"), &[]), token(&login("member"), &[]), token(&linked, &[]));

    api.ok(&owner, "GET", &format!("/identities/{owner_id}"), None, 200).await;
    api.ok(&owner, "PUT", "/profiles/me", Some(json!({"first_name": "Olive", "last_name": "Owner"})), 200).await;
    assert_eq!(api.ok(&owner, "GET", "/profiles/me", None, 200).await["first_name"], "Olive");
    let org_id = api.ok(&owner, "POST", "/organizations", Some(json!({"name": format!("E2E {tag}")})), 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.ok(&owner, "GET", "/organizations", None, 200).await.as_array().unwrap().len(), 1);
    api.ok(&owner, "PUT", &format!("/organizations/{org_id}"), Some(json!({"description": "end to end"})), 200).await;
    let members = format!("/organizations/{org_id}/members");
    api.ok(&owner, "POST", &members, Some(json!({"email": login("member")})), 201).await;
    let declined =
        api.ok(&owner, "POST", &members, Some(json!({"email": linked})), 201).await["id"].as_str().unwrap().to_owned();
    // Owners see the open invitations with who sent them, and withdraw one.
    let withdrawn = api.ok(&owner, "POST", &members, Some(json!({"email": login("gone")})), 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let open = api.ok(&owner, "GET", &format!("/organizations/{org_id}/invitations"), None, 200).await;
    assert_eq!(open.as_array().unwrap().len(), 3, "{open}");
    assert_eq!(open[0]["invited_by"]["email"], login("owner"), "{open}");
    let revoked =
        api.ok(&owner, "DELETE", &format!("/organizations/{org_id}/invitations/{withdrawn}"), None, 200).await;
    assert_eq!(revoked["status"], "revoked");
    let invitations = api.ok(&member, "GET", "/invitations", None, 200).await;
    assert_eq!(invitations[0]["invited_by"]["email"], login("owner"), "the invitee sees who invited them");
    let invitation = invitations[0]["id"].as_str().unwrap().to_owned();
    api.ok(&member, "POST", &format!("/invitations/{invitation}/accept"), None, 200).await;
    api.ok(&linked_token, "POST", &format!("/invitations/{declined}/decline"), None, 200).await;
    let listed = api.ok(&member, "GET", &members, None, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    api.ok(&owner, "PUT", &format!("{members}/{member_id}"), Some(json!({"role": "admin"})), 200).await;
    // Ownership to the member through the platform admin, once the only owner is inactive.
    sql("UPDATE identities SET deactivated_at = now() WHERE id = $1::text::uuid", &[&owner_id]);
    api.ok(&admin, "PUT", &format!("/organizations/{org_id}/owner"), Some(json!({"user_id": member_id})), 200).await;
    sql("UPDATE identities SET deactivated_at = NULL WHERE id = $1::text::uuid", &[&owner_id]);
    api.ok(&member, "DELETE", &format!("{members}/{owner_id}"), None, 200).await;
    api.ok(&owner, "DELETE", "/profiles/me", None, 200).await;
    // Deactivated: refused everywhere through the whole stack; reactivated: back.
    api.ok(&admin, "DELETE", &format!("/identities/{owner_id}"), None, 200).await;
    let (status, body) = api.call(Some(&owner), "GET", "/organizations", None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("the caller has no active identity on this platform")));
    api.ok(&admin, "POST", &format!("/identities/{owner_id}/reactivate"), None, 200).await;
    api.ok(&owner, "GET", "/organizations", None, 200).await;

    let catalog: BTreeSet<String> = route_registry::modules::org::ROUTES.iter().map(|r| r.key()).collect();
    assert_eq!(*api.seen.lock().unwrap(), catalog, "every org-module route exercised once with success");

    // Without a token: 401 on every route; with a forged one: 403. Neither reaches a handler.
    let forged = format!("{}x", &admin[..admin.len() - 1]);
    for route in route_registry::all_routes() {
        let path = route.fill(|p| if p == "userId" { owner_id.clone() } else { org_id.clone() });
        let (status, body) = api.call(None, route.method.as_str(), &path, Some(json!({}))).await;
        assert_eq!((status, body["message"].as_str()), (401, Some("Unauthorized")), "{}", route.key());
        let (status, _) = api.call(Some(&forged), route.method.as_str(), &path, Some(json!({}))).await;
        assert_eq!(status, 403, "{} with a forged token", route.key());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalog_route_of_every_module_reaches_its_handler() {
    let api = start(None).await;
    let login = format!("any-{}@example.com", uuid::Uuid::new_v4().simple());
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&login]);
    let caller = token(&login, &[module_runtime::DEFAULT_ADMIN_GROUP]);
    let unknown = uuid::Uuid::new_v4().to_string();
    for route in route_registry::all_routes() {
        let path = route.fill(|_| unknown.clone());
        let (status, body) = api.call(Some(&caller), route.method.as_str(), &path, Some(json!({}))).await;
        // The handler's envelope, not the gateway's `{"message"}`; an empty body or an unknown id is a client error.
        assert!(body.get("success").is_some(), "{} did not reach a handler: {status} {body}", route.key());
        assert!(status < 500, "{}: {status} {body}", route.key());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_behaviour_cors_and_openapi() {
    let api = start(None).await;
    let (status, body) = api.call(Some(&token("x@example.com", &[])), "GET", "/nope", None).await;
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
    let paths: BTreeSet<&str> = route_registry::all_routes().map(|r| r.path).collect();
    assert_eq!(doc["paths"].as_object().unwrap().len(), paths.len(), "one path item per catalog path");
    let operations: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(operations, route_registry::all_routes().count(), "one operation per catalog route");
}

/// A body that is not UTF-8 reaches the handler as the bytes it is (base64-encoded and flagged, as API Gateway sends
/// binary content), and is refused as JSON: never accepted with replacement characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_utf8_is_refused_not_repaired() {
    let api = start(None).await;
    let login = format!("bytes-{}@example.com", uuid::Uuid::new_v4().simple());
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&login]);
    let caller = token(&login, &[]);
    let mut body = br#"{"name": "Caf"#.to_vec();
    body.extend([0xff, 0xfe]);
    body.extend(br#""}"#);
    let response = reqwest::Client::new()
        .post(format!("{}/organizations", api.base))
        .bearer_auth(&caller)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();
    assert_eq!((status, answer["error"].as_str()), (400, Some("The request body is not valid JSON")), "{answer}");
    let (_, mine) = api.call(Some(&caller), "GET", "/organizations", None).await;
    assert_eq!(mine["data"], json!([]), "nothing was created");
}
