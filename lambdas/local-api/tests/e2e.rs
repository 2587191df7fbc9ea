//! End to end over real HTTP against the local API (the real authorizer, trusting the development issuer's JWKS
//! this server serves, then the real handlers) on PostgreSQL + PostgREST, with the Okta stand-in (its Users API and
//! its token endpoint as the local authorization server) and the SQS and KMS stand-ins for the functions without a
//! caller: every catalog route once with success, the provisioning flow from Okta to a refused deactivated caller,
//! 401 without a token and 403 with a forged one on every route; an import of 1,000 addresses to the end and again;
//! a message that always fails reaching the dead-letter queue; a user deactivated in Okta refused after one
//! reconciliation; résumés uploaded to the documents store (the S3 stand-in) and read, shared, refused and erased.
//!
//! Needs the services of `cargo xtask ci` / `cargo xtask test` (`CAREER_TEST_*` variables); never skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use standins::kms::KmsStandin;
use standins::okta::OktaStandin;
use standins::s3::S3Standin;
use standins::sqs::SqsStandin;

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
    okta: OktaStandin,
    sqs: SqsStandin,
    kms: KmsStandin,
    s3: S3Standin,
}

/// The documents bucket of these tests.
const BUCKET: &str = "career-e2e-documents";

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

    /// Polls a task until it finished (at most 60 s).
    async fn finished(&self, token: &str, task: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, value) = self.call(Some(token), "GET", &format!("/tasks/{task}"), None).await;
            assert_eq!(status, 200, "{value}");
            let state = value["data"]["state"].as_str().unwrap_or_default().to_owned();
            if state == "succeeded" || state == "failed" {
                return value["data"].clone();
            }
            assert!(std::time::Instant::now() < deadline, "task {task} still {state} after 60 s: {value}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A local trigger endpoint (`/_local/…`), without a token.
    async fn local(&self, method: &str, path: &str) -> (u16, Value) {
        let response = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// The local API with every trigger running against fresh stand-ins: its own queues (a one-second visibility
/// timeout, so retries come quickly), its own KMS key for org-module's service identity, registered with the Okta
/// stand-in's token endpoint and with the database.
async fn start() -> Api {
    // Request and event lines stay in memory instead of filling the test output.
    module_runtime::metrics::capture();
    let (okta, sqs, kms) =
        (OktaStandin::start("e2e-token").unwrap(), SqsStandin::start().unwrap(), KmsStandin::start().unwrap());
    let dev = settings::Env::Dev.settings();
    let mut service_keys = Vec::new();
    for module in route_registry::MODULES.iter().filter(|m| m.has_service_identity()) {
        let key = kms.create_key().unwrap();
        let client = dev.service_client_id(module.name);
        okta.register_client(&client, key.jwk.clone(), &[dev.service_scope]);
        sql(
            "INSERT INTO app.service_principal (client_id, module) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING",
            &[&client, &module.name],
        );
        service_keys.push((module.name.to_owned(), key.arn));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The documents store reports created objects to this API, as the bucket notification does in AWS; the reader's
    // child is the local API's own binary (this test binary's `main` is the test harness).
    let s3 = S3Standin::start(&[("local", "local")]).unwrap();
    s3.create_bucket(BUCKET);
    s3.notify_to(&format!("http://{addr}/_local/events/s3"));
    std::env::set_var(module_runtime::isolate::EXE_VARIABLE, env!("CARGO_BIN_EXE_local-api"));
    let config = module_runtime::Config {
        db: Some(module_runtime::DbConfig { rest_url: var("CAREER_TEST_POSTGREST_URL"), anon_key: String::new() }),
        okta: Some(module_runtime::OktaConfig {
            base_url: okta.base_url.clone(),
            token: okta.token().to_owned(),
            timeout: Duration::from_secs(5),
        }),
        ..Default::default()
    };
    let mut triggers = local_api::triggers::Triggers {
        aws: module_runtime::aws::AwsConfig {
            region: "us-east-1".into(),
            access_key_id: "local".into(),
            secret_access_key: "local".into(),
            session_token: None,
            sqs_endpoint: Some(sqs.url.clone()),
            kms_endpoint: Some(kms.url.clone()),
        },
        token_url: okta.token_url(),
        service_keys,
        visibility_timeout_s: 1,
        fire_schedules: false,
        queues: Vec::new(),
        dlqs: Vec::new(),
        documents: Some(local_api::triggers::LocalDocuments { endpoint: s3.url.clone(), bucket: BUCKET.into() }),
    };
    triggers.create_queues(&reqwest::Client::new()).await.unwrap();
    let app = Arc::new(local_api::App::new(addr, &config, Some(triggers)).unwrap());
    local_api::triggers::start(&app);
    tokio::spawn(local_api::serve(listener, app));
    Api { base: format!("http://{addr}"), http: reqwest::Client::new(), seen: Default::default(), okta, sqs, kms, s3 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_once_with_a_token_and_refused_without() {
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let login = |name: &str| format!("{name}-{tag}@example.com");
    let linked = login("linked");
    api.okta.add_user(&linked, &linked, "Lin", "Ked", "ACTIVE");
    // The environment's first admin is recorded by hand (docs/deploying.md); everyone else is provisioned.
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
    // A small import, to its end.
    let imported = format!("/organizations/{org_id}/invitations/import");
    let task = api.ok(&owner, "POST", &imported, Some(json!({"addresses": [login("imported")]})), 202).await;
    let done = api.finished(&owner, task["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["created"], 1, "{done}");
    // A task nothing will run (made in the database, as a call straight through PostgREST would): its starter
    // cancels it, and the organization's imports are free again.
    let stuck = uuid::Uuid::new_v4().to_string();
    sql(
        "INSERT INTO task (id, module, kind, org_id, created_by, total) \
         VALUES ($1::text::uuid, 'org-module', 'invitation-import', $2::text::uuid, $3::text::uuid, 1)",
        &[&stuck, &org_id, &owner_id],
    );
    let (status, _) = api.call(Some(&owner), "POST", &imported, Some(json!({"addresses": [login("blocked")]}))).await;
    assert_eq!(status, 409, "a task that has not ended holds the organization's imports");
    let cancelled = api.ok(&owner, "POST", &format!("/tasks/{stuck}/cancel"), None, 200).await;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    api.ok(&owner, "POST", &imported, Some(json!({"addresses": [login("unblocked")]})), 202).await;
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
    let api = start().await;
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
    let api = start().await;
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
    let api = start().await;
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

/// Tests that read the captured event lines take turns (the capture is one buffer per process).
static LINES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An owner and an organization of their own, for a test.
async fn owner_with_org(api: &Api, tag: &str) -> (String, String) {
    let login = format!("owner-{tag}@example.com");
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&login]);
    let owner = token(&login, &[]);
    let org = api.ok(&owner, "POST", "/organizations", Some(json!({"name": format!("Import {tag}")})), 201).await;
    (owner, org["id"].as_str().unwrap().to_owned())
}

/// Done when (the import): 1,000 addresses through the queue and its worker end with 1,000 invitations, and the same
/// import again creates none. Lines that cannot be invitations are reported with their reasons; an address of
/// someone who has an identity is treated as one of nobody (no enumeration).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_of_1000_addresses_completes_and_again_creates_nothing() {
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, org_id) = owner_with_org(&api, &tag).await;
    let addresses: Vec<String> = (0..1000).map(|i| format!("invitee-{i}-{tag}@example.com")).collect();
    // One of them has an identity on the platform already: nothing in the answer tells.
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&addresses[7]]);
    let path = format!("/organizations/{org_id}/invitations/import");
    let response = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&owner)
        .json(&json!({"addresses": addresses}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["data"]["state"], "queued");
    assert_eq!(accepted["data"]["total"], 1000);
    assert_eq!(location, format!("/tasks/{}", accepted["data"]["id"].as_str().unwrap()));
    let done = api.finished(&owner, accepted["data"]["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!((done["done"].as_u64(), done["total"].as_u64()), (Some(1000), Some(1000)));
    let brief = |v: &Value| v.to_string().chars().take(600).collect::<String>();
    assert_eq!(done["result"]["created"], 1000, "{}", brief(&done["result"]));
    assert_eq!(done["result"]["failed"], 0);
    let open = api.ok(&owner, "GET", &format!("/organizations/{org_id}/invitations"), None, 200).await;
    assert_eq!(open.as_array().unwrap().len(), 1000);

    // The same import again, as CSV: nothing new.
    let csv = format!("email\n{}\n", addresses.join("\n"));
    let again: Value = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&owner)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let done = api.finished(&owner, again["data"]["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["created"], 0, "{}", brief(&done));
    assert_eq!(done["result"]["already_invited"], 1000, "{}", brief(&done));
    let open = api.ok(&owner, "GET", &format!("/organizations/{org_id}/invitations"), None, 200).await;
    assert_eq!(open.as_array().unwrap().len(), 1000, "no invitation was created twice");

    // Bad lines fail alone, each with its reason; the owner is a member already.
    let mixed = json!({"addresses": [
        format!("fresh-{tag}@example.com"), "not an address", format!("fresh-{tag}@EXAMPLE.com"),
        format!("owner-{tag}@example.com"), "kelvin\u{212a}@example.com",
    ]});
    let task = api.ok(&owner, "POST", &path, Some(mixed), 202).await;
    let result = api.finished(&owner, task["id"].as_str().unwrap()).await["result"].clone();
    assert_eq!((result["created"].as_u64(), result["already_members"].as_u64()), (Some(1), Some(1)), "{result}");
    let reasons: Vec<(u64, String)> = result["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["line"].as_u64().unwrap(), f["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(reasons.len(), 3, "{result}");
    assert_eq!(reasons[0].0, 2);
    assert_eq!(reasons[1], (3, "the same address as line 1".to_owned()));
    assert_eq!(reasons[2].0, 5, "a look-alike address is not an address");

    // One import at a time per organization; only owners import.
    let member_login = format!("member-{tag}@example.com");
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&member_login]);
    let (status, _) =
        api.call(Some(&token(&member_login, &[])), "POST", &path, Some(json!({"addresses": ["a@example.com"]}))).await;
    assert_eq!(status, 404, "a stranger does not see the organization");
    // The worker got one service token for all of it: one KMS signature, one token request.
    assert_eq!((api.kms.signs(), api.okta.tokens_issued()), (1, 1), "the service token is cached");
}

/// Done when (the dead-letter queue): a message that always fails is received the catalog's number of times and
/// then waits in the dead-letter queue; the alarm reads that queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_always_fails_lands_in_the_dead_letter_queue() {
    let _turn = LINES.lock().await;
    let api = start().await;
    let import = route_registry::modules::org::INVITATION_IMPORT;
    let route_registry::Trigger::Queue(queue) = import.trigger else { panic!("a queue-fed function") };
    let name = local_api::triggers::queue_name(&import);
    let dlq = format!("{name}-dlq");
    // A range of a task that does not exist: the database refuses it every time.
    let poison = json!({"task_id": uuid::Uuid::new_v4(), "first": 1, "last": 1}).to_string();
    let aws = module_runtime::aws::Aws::new(
        reqwest::Client::new(),
        module_runtime::aws::AwsConfig {
            region: "us-east-1".into(),
            access_key_id: "local".into(),
            secret_access_key: "local".into(),
            session_token: None,
            sqs_endpoint: Some(api.sqs.url.clone()),
            kms_endpoint: None,
        },
    );
    let far = std::time::Instant::now() + Duration::from_secs(10);
    aws.call(
        module_runtime::aws::Service::Sqs,
        "SendMessage",
        &json!({"QueueUrl": api.sqs.queue_url(&name), "MessageBody": poison}),
        Duration::from_secs(2),
        far,
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while api.sqs.depth(&dlq) == 0 {
        assert!(std::time::Instant::now() < deadline, "not in the dead-letter queue after 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(api.sqs.bodies(&dlq), [poison]);
    assert_eq!(api.sqs.depth(&name), 0);
    // Received exactly the catalog's number of times: one event line each, all failed, all but the first redelivered.
    let lines: Vec<Value> = module_runtime::metrics::take_captured()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["Function"] == import.name && l["event"].as_str().is_some_and(|e| e.starts_with("message ")))
        .filter(|l| l["error"].as_str().is_some_and(|e| e.contains("import task not found")))
        .collect();
    assert_eq!(lines.len(), queue.max_receives as usize, "{lines:#?}");
    assert_eq!(lines.iter().filter(|l| l["Redeliveries"] == 1).count(), queue.max_receives as usize - 1);
    let (status, depths) = api.local("GET", "/_local/queues").await;
    assert_eq!(status, 200);
    assert_eq!(
        depths[format!("{} (dead-letter)", import.binary)]["attributes"]["ApproximateNumberOfMessages"],
        "1",
        "{depths}"
    );
}

/// Waits until `done` holds, at most 60 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{what}: not after 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An import whose messages fail every attempt ends, and moving them back finishes it, all through the SQS stand-in:
/// the worker receives the range the catalog's number of times, each failed event line names the task, the range
/// lands in the dead-letter queue; the schedule fails the stalled task with that reason; the message moved back (what
/// `aws sqs start-message-move-task` does) resumes it to its end; and the same range delivered once more changes
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_import_ends_and_its_redriven_messages_finish_it() {
    let _turn = LINES.lock().await;
    let api = start().await;
    module_runtime::metrics::take_captured();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, org_id) = owner_with_org(&api, &tag).await;
    let import = route_registry::modules::org::INVITATION_IMPORT;
    let route_registry::Trigger::Queue(queue) = import.trigger else { panic!("a queue-fed function") };
    let name = local_api::triggers::queue_name(&import);
    let dlq = format!("{name}-dlq");
    // A task of three lines the worker cannot find while its kind is held: every delivery of its range fails.
    let task = uuid::Uuid::new_v4().to_string();
    sql(
        "INSERT INTO task (id, module, kind, org_id, created_by, total) \
         SELECT $1::text::uuid, 'org-module', 'held-import', m.org_id, m.user_id, 3 FROM org_member m \
         WHERE m.org_id = $2::text::uuid AND m.role = 'owner' AND m.deleted_at IS NULL",
        &[&task, &org_id],
    );
    sql(
        "INSERT INTO app.invitation_import_line (task_id, line, address, role) \
         SELECT $1::text::uuid, n, format('redriven-%s-%s@example.com', n, $2::text), 'member' \
         FROM generate_series(1, 3) n",
        &[&task, &tag],
    );
    let range = json!({"task_id": task, "first": 1, "last": 3}).to_string();
    let sqs = |operation: &'static str, body: Value| {
        let url = api.sqs.url.clone();
        async move {
            let aws = module_runtime::aws::Aws::new(
                reqwest::Client::new(),
                module_runtime::aws::AwsConfig {
                    region: "us-east-1".into(),
                    access_key_id: "local".into(),
                    secret_access_key: "local".into(),
                    session_token: None,
                    sqs_endpoint: Some(url),
                    kms_endpoint: None,
                },
            );
            let far = std::time::Instant::now() + Duration::from_secs(10);
            aws.call(module_runtime::aws::Service::Sqs, operation, &body, Duration::from_secs(2), far).await.unwrap()
        }
    };
    sqs("SendMessage", json!({"QueueUrl": api.sqs.queue_url(&name), "MessageBody": range})).await;
    until("in the dead-letter queue", || api.sqs.depth(&dlq) == 1).await;
    assert_eq!(api.sqs.bodies(&dlq), [range.clone()]);
    let failed: Vec<Value> = module_runtime::metrics::take_captured()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["Function"] == import.name && l["error"].is_string())
        .collect();
    assert_eq!(failed.len(), queue.max_receives as usize, "{failed:#?}");
    assert!(
        failed.iter().all(|l| l["subject"] == format!("task {task}")),
        "each failed line names the task: {failed:#?}"
    );

    // Still queued: past its bound, the schedule's run fails it with the reason.
    sql(
        "UPDATE task SET kind = 'invitation-import', \
         updated_at = now() - (SELECT task_stall_after FROM app.settings) - interval '1 minute' WHERE id = $1::text::uuid",
        &[&task],
    );
    let (status, answer) = api.local("POST", "/_local/schedules/org-okta-reconcile").await;
    assert_eq!((status, &answer["ok"]), (200, &json!(true)), "{answer}");
    let ended = api.ok(&owner, "GET", &format!("/tasks/{task}"), None, 200).await;
    assert_eq!(ended["state"], "failed", "{ended}");
    assert!(ended["error"].as_str().unwrap().contains("dead-letter queue"), "{ended}");

    // Moved back: received from the dead-letter queue, sent to its queue, deleted there.
    let received = sqs(
        "ReceiveMessage",
        json!({"QueueUrl": api.sqs.queue_url(&dlq), "MaxNumberOfMessages": 10, "VisibilityTimeout": 30}),
    )
    .await;
    let message = &received["Messages"][0];
    sqs("SendMessage", json!({"QueueUrl": api.sqs.queue_url(&name), "MessageBody": message["Body"]})).await;
    sqs("DeleteMessage", json!({"QueueUrl": api.sqs.queue_url(&dlq), "ReceiptHandle": message["ReceiptHandle"]})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        let now = api.ok(&owner, "GET", &format!("/tasks/{task}"), None, 200).await;
        if now["state"] == "succeeded" {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "not resumed to its end after 60 s: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["result"]["created"], 3, "{done}");
    assert_eq!(done["error"], Value::Null, "{done}");

    // The same range once more, as SQS may deliver it: handled, and nothing changes.
    sqs("SendMessage", json!({"QueueUrl": api.sqs.queue_url(&name), "MessageBody": range})).await;
    until("the repeated range handled", || api.sqs.depth(&name) == 0).await;
    let open = api.ok(&owner, "GET", &format!("/organizations/{org_id}/invitations"), None, 200).await;
    assert_eq!(open.as_array().unwrap().len(), 3, "{open}");
    assert_eq!(api.ok(&owner, "GET", &format!("/tasks/{task}"), None, 200).await["result"], done["result"]);
    assert_eq!(api.sqs.depth(&dlq), 0);
}

/// Done when (reconciliation): a user deactivated or suspended in Okta is refused by the API after one run of the
/// reconciliation schedule; a second run deactivates nobody new (it resumes from its cursor).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deactivated_in_okta_is_refused_after_one_reconciliation() {
    let _turn = LINES.lock().await;
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let admin_login = format!("admin-{tag}@example.com");
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&admin_login]);
    let admin = token(&admin_login, &[module_runtime::DEFAULT_ADMIN_GROUP]);
    let mut people = Vec::new();
    for name in ["suspended", "deactivated", "staying"] {
        let login = format!("{name}-{tag}@example.com");
        api.ok(
            &admin,
            "POST",
            "/identities",
            Some(json!({"email": login, "first_name": name, "last_name": "Okta"})),
            201,
        )
        .await;
        let t = token(&login, &[]);
        api.ok(&t, "GET", "/profiles/me", None, 200).await;
        people.push((login, t));
    }
    assert!(api.okta.set_status(&people[0].0, "SUSPENDED"));
    assert!(api.okta.set_status(&people[1].0, "DEPROVISIONED"));
    let (status, run) = api.local("POST", "/_local/schedules/org-okta-reconcile").await;
    assert_eq!((status, &run["ok"]), (200, &json!(true)), "{run}");
    for (login, t) in &people[..2] {
        let (status, body) = api.call(Some(t), "GET", "/profiles/me", None).await;
        assert_eq!(status, 403, "{login}: {body}");
    }
    api.ok(&people[2].1, "GET", "/profiles/me", None, 200).await;
    let deactivated = |lines: &[String]| -> Vec<u64> {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["Function"] == "okta-reconcile" && l["Events"] == 1)
            .map(|l| l["Items"].as_u64().unwrap_or(0))
            .collect()
    };
    let first = deactivated(&module_runtime::metrics::take_captured());
    assert!(first.last().is_some_and(|n| *n >= 2), "the run counts what it deactivated: {first:?}");
    let (status, _) = api.local("POST", "/_local/schedules/org-okta-reconcile").await;
    assert_eq!(status, 200);
    let second = deactivated(&module_runtime::metrics::take_captured());
    assert_eq!(second.last(), Some(&0), "the second run resumes after the first: {second:?}");
    let (status, missing) = api.local("POST", "/_local/schedules/no-such-function").await;
    assert_eq!(status, 500);
    assert!(missing["error"].as_str().unwrap().contains("not a scheduled function"), "{missing}");
}

/// Posts an upload form (`upload` as `POST /resumes` answered it) to the documents store with `file`: the store's
/// status and answer.
async fn upload(upload: &Value, file: &[u8], change: Option<(&str, &str)>) -> (u16, String) {
    let boundary = "----career-e2e";
    let mut body = Vec::new();
    for (name, value) in upload["fields"].as_object().unwrap() {
        let value = match change {
            Some((n, v)) if n == name => v.to_owned(),
            _ => value.as_str().unwrap().to_owned(),
        };
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cv\"\r\n\r\n").bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let response = reqwest::Client::new()
        .post(upload["url"].as_str().unwrap())
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

impl Api {
    /// Polls a résumé until it is parsed or failed: within the processor's 60 s, or the test fails.
    async fn processed(&self, token: &str, id: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let resume = self.ok(token, "GET", &format!("/resumes/{id}"), None, 200).await;
            if resume["state"] == "parsed" || resume["state"] == "failed" {
                return resume;
            }
            assert!(std::time::Instant::now() < deadline, "résumé {id} still {} after 60 s", resume["state"]);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every stored version (and delete marker) of `key`.
    fn versions(&self, key: &str) -> Vec<(String, String, bool)> {
        self.s3.versions(BUCKET, key).into_iter().filter(|(k, _, _)| k == key).collect()
    }
}

/// Done when (résumés): a real PDF and a real DOCX uploaded straight to the store reach `parsed` with sections; the
/// owner shares one with the organization's members and takes it back; another organization's member gets 404 for
/// both; the store refuses an upload over the size limit or of another type; every file of the adversarial corpus
/// ends `failed` with its reason, read once; a delete leaves no version of the document, and a late upload with the
/// old form is erased on arrival.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_are_uploaded_read_shared_and_erased() {
    use resume_module::samples;
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, org) = owner_with_org(&api, &format!("cv-{tag}")).await;
    let (outsider, _) = owner_with_org(&api, &format!("cv-out-{tag}")).await;
    let member_login = format!("member-cv-{tag}@example.com");
    sql("INSERT INTO identities (idp_subject, email) VALUES ($1, $1)", &[&member_login]);
    let member = token(&member_login, &[]);
    api.ok(&owner, "POST", &format!("/organizations/{org}/members"), Some(json!({"email": member_login})), 201).await;
    let invitation = api.ok(&member, "GET", "/invitations", None, 200).await[0]["id"].as_str().unwrap().to_owned();
    api.ok(&member, "POST", &format!("/invitations/{invitation}/accept"), None, 200).await;

    let create = |content_type: &str| json!({"org_id": org, "content_type": content_type});
    let text = samples::resume_text("Grace Hopper", 3);
    let mut read = Vec::new();
    for (content_type, file) in [
        ("application/pdf", samples::pdf(&text)),
        (route_registry::modules::resume::types::ResumeType::Docx.media_type(), samples::docx(&text)),
    ] {
        let created = api.ok(&owner, "POST", "/resumes", Some(create(content_type)), 201).await;
        assert_eq!(created["resume"]["state"], "uploaded", "{created}");
        let id = created["resume"]["id"].as_str().unwrap().to_owned();
        let (status, answer) = upload(&created["upload"], &file, None).await;
        assert!((200..300).contains(&status), "{content_type}: {status} {answer}");
        let resume = api.processed(&owner, &id).await;
        assert_eq!(resume["state"], "parsed", "{content_type}: {resume}");
        assert_eq!(resume["sections"]["skills"], "Rust, Postgres, AWS", "{resume}");
        assert!(resume["sections"]["experience"].as_str().unwrap().contains("Acme Corp 2"), "{resume}");
        assert!(resume["sections"]["contact"].as_str().unwrap().contains("Grace Hopper"), "{resume}");
        read.push((id, created["upload"]["fields"]["key"].as_str().unwrap().to_owned(), created["upload"].clone()));
    }
    assert_eq!(api.ok(&owner, "GET", "/resumes", None, 200).await.as_array().unwrap().len(), 2);

    // Nobody else sees them; the members see what the owner shares, until it is unshared.
    let (pdf, _, _) = &read[0];
    for (id, _, _) in &read {
        for who in [&outsider, &member] {
            let (status, body) = api.call(Some(who), "GET", &format!("/resumes/{id}"), None).await;
            assert_eq!(status, 404, "{body}");
        }
    }
    assert_eq!(api.ok(&owner, "POST", &format!("/resumes/{pdf}/share"), None, 200).await["shared"], true);
    assert_eq!(api.ok(&member, "GET", &format!("/resumes/{pdf}"), None, 200).await["state"], "parsed");
    assert_eq!(api.call(Some(&outsider), "GET", &format!("/resumes/{pdf}"), None).await.0, 404);
    let (status, _) = api.call(Some(&member), "DELETE", &format!("/resumes/{pdf}"), None).await;
    assert_eq!(status, 404, "a member may read a shared résumé, never delete it");
    api.ok(&owner, "DELETE", &format!("/resumes/{pdf}/share"), None, 200).await;
    assert_eq!(api.call(Some(&member), "GET", &format!("/resumes/{pdf}"), None).await.0, 404);

    // The store refuses a file over the limit and another type, by itself.
    let spare = api.ok(&owner, "POST", "/resumes", Some(create("application/pdf")), 201).await;
    let max = route_registry::modules::resume::types::MAX_RESUME_BYTES as usize;
    let (status, answer) = upload(&spare["upload"], &vec![b'x'; max + 1], None).await;
    assert_eq!((status, answer.contains("EntityTooLarge")), (400, true), "{answer}");
    let (status, answer) = upload(&spare["upload"], b"<html>", Some(("Content-Type", "text/html"))).await;
    assert_eq!(status, 403, "{answer}");
    let spare_key = spare["upload"]["fields"]["key"].as_str().unwrap();
    assert!(api.versions(spare_key).is_empty(), "nothing refused was stored");
    api.ok(&owner, "DELETE", &format!("/resumes/{}", spare["resume"]["id"].as_str().unwrap()), None, 200).await;

    // The adversarial corpus: each failed with its reason, read once (no retries), then erased.
    for h in samples::hostile() {
        let created = api.ok(&owner, "POST", "/resumes", Some(create(h.declared.media_type())), 201).await;
        let id = created["resume"]["id"].as_str().unwrap().to_owned();
        let key = created["upload"]["fields"]["key"].as_str().unwrap().to_owned();
        if h.bytes.is_empty() {
            // The form refuses an empty file; a holder of the bucket's credentials can still put one.
            let (status, _) = upload(&created["upload"], &h.bytes, None).await;
            assert_eq!(status, 400, "the store refuses an empty upload");
            api.s3.put_object(BUCKET, &key, h.bytes.clone(), h.declared.media_type());
        } else {
            let (status, answer) = upload(&created["upload"], &h.bytes, None).await;
            assert!((200..300).contains(&status), "{}: {status} {answer}", h.name);
        }
        let resume = api.processed(&owner, &id).await;
        assert_eq!(resume["state"], "failed", "{}: {resume}", h.name);
        let reason = resume["failure_reason"].as_str().unwrap();
        assert!(reason.contains(h.reason), "{}: `{reason}` does not say `{}`", h.name, h.reason);
        let attempts = tokio::task::block_in_place(|| {
            let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
            c.query_one("SELECT attempts FROM resume WHERE id = $1::text::uuid", &[&id]).unwrap().get::<_, i32>(0)
        });
        assert_eq!(attempts, 1, "{}: read once", h.name);
        api.ok(&owner, "DELETE", &format!("/resumes/{id}"), None, 200).await;
        assert!(api.versions(&key).is_empty(), "{}: versions left after delete: {:?}", h.name, api.versions(&key));
    }

    // Delete: the record and every version of the document; a late upload with the old form is erased on arrival.
    let (docx, docx_key, docx_form) = &read[1];
    upload(docx_form, &samples::docx(&text), None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deleted = api.ok(&owner, "DELETE", &format!("/resumes/{docx}"), None, 200).await;
    assert!(deleted["message"].as_str().unwrap().contains("deleted"), "{deleted}");
    assert!(api.versions(docx_key).is_empty(), "{:?}", api.versions(docx_key));
    assert_eq!(api.call(Some(&owner), "GET", &format!("/resumes/{docx}"), None).await.0, 404);
    let (status, _) = upload(docx_form, &samples::docx(&text), None).await;
    assert!((200..300).contains(&status), "the old form is still valid for its minutes");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !api.versions(docx_key).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the late upload was not erased: {:?}", api.versions(docx_key));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.ok(&owner, "DELETE", &format!("/resumes/{pdf}"), None, 200).await;
    assert_eq!(api.ok(&owner, "GET", "/resumes", None, 200).await, json!([]));
}

/// Marks a résumé `erasing` as the first step of a DELETE does, `minutes_ago` (the row's `updated_at`, which the
/// update trigger would otherwise set to now): a client that gave up after it never erased the document.
fn abandon_erasure(id: &str, minutes_ago: u32) {
    tokio::task::block_in_place(|| {
        let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
        c.batch_execute("SET session_replication_role = replica").unwrap();
        let marked = c
            .execute(
                "UPDATE resume SET erasing = true, shared_at = NULL, text = NULL, sections = NULL, \
                 updated_at = now() - make_interval(mins => $2) WHERE id = $1::text::uuid",
                &[&id, &(minutes_ago as i32)],
            )
            .unwrap();
        assert_eq!(marked, 1, "résumé {id}");
    })
}

fn resume_rows(id: &str) -> i64 {
    tokio::task::block_in_place(|| {
        let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
        c.query_one("SELECT count(*) FROM resume WHERE id = $1::text::uuid", &[&id]).unwrap().get(0)
    })
}

/// Done when (abandoned erasures): a DELETE abandoned after its first step (the record marked and invisible, the
/// document's versions still stored) is finished by the sweep once its grace has passed: every version erased, the
/// row removed. A newer mark (a DELETE that may still be at work) is left to its DELETE, which still finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_erasure_is_finished_by_the_sweep() {
    use route_registry::modules::resume::ERASURE_GRACE_MIN;
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, org) = owner_with_org(&api, &format!("sweep-{tag}")).await;
    let text = resume_module::samples::resume_text("Ada Lovelace", 1).join("\n");
    let mut resumes = Vec::new();
    for _ in 0..2 {
        let created =
            api.ok(&owner, "POST", "/resumes", Some(json!({"org_id": org, "content_type": "text/plain"})), 201).await;
        let id = created["resume"]["id"].as_str().unwrap().to_owned();
        let key = created["upload"]["fields"]["key"].as_str().unwrap().to_owned();
        let (status, answer) = upload(&created["upload"], text.as_bytes(), None).await;
        assert!((200..300).contains(&status), "{status} {answer}");
        assert_eq!(api.processed(&owner, &id).await["state"], "parsed");
        resumes.push((id, key));
    }
    let [(old, old_key), (new, new_key)] = &resumes[..] else { unreachable!() };
    abandon_erasure(old, ERASURE_GRACE_MIN + 1);
    abandon_erasure(new, 1);
    for (id, key) in &resumes {
        assert_eq!(api.call(Some(&owner), "GET", &format!("/resumes/{id}"), None).await.0, 404, "marked: invisible");
        assert!(!api.versions(key).is_empty(), "the abandoned DELETE left the document");
    }

    let (status, run) = api.local("POST", "/_local/schedules/resume-erasure-sweep").await;
    assert_eq!((status, &run["ok"]), (200, &json!(true)), "{run}");
    assert!(api.versions(old_key).is_empty(), "versions left after the sweep: {:?}", api.versions(old_key));
    assert_eq!(resume_rows(old), 0, "the sweep removes the row");
    assert!(!api.versions(new_key).is_empty(), "a mark within the grace is its DELETE's");
    assert_eq!(resume_rows(new), 1);

    // The owner repeats the newer DELETE (as a client retrying does): it finishes as before; a second sweep finds
    // nothing of these.
    api.ok(&owner, "DELETE", &format!("/resumes/{new}"), None, 200).await;
    assert!(api.versions(new_key).is_empty(), "{:?}", api.versions(new_key));
    assert_eq!(resume_rows(new), 0);
    let (status, run) = api.local("POST", "/_local/schedules/resume-erasure-sweep").await;
    assert_eq!((status, &run["ok"]), (200, &json!(true)), "{run}");
}

/// A person with an identity and a token, who accepted an invitation of `owner` into `org`: their identity's id.
async fn member_of(api: &Api, owner: &str, org: &str, login: &str) -> (String, String) {
    let id: String = tokio::task::block_in_place(|| {
        let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
        let found = c
            .query_opt("SELECT id::text FROM identities WHERE idp_subject = $1 AND deactivated_at IS NULL", &[&login])
            .unwrap();
        match found {
            Some(row) => row.get(0),
            None => c
                .query_one("INSERT INTO identities (idp_subject, email) VALUES ($1, $1) RETURNING id::text", &[&login])
                .unwrap()
                .get(0),
        }
    });
    let who = token(login, &[]);
    api.ok(owner, "POST", &format!("/organizations/{org}/members"), Some(json!({"email": login})), 201).await;
    let invitations = api.ok(&who, "GET", "/invitations", None, 200).await;
    let invitation =
        invitations.as_array().unwrap().iter().find(|i| i["org_id"] == org).unwrap()["id"].as_str().unwrap().to_owned();
    api.ok(&who, "POST", &format!("/invitations/{invitation}/accept"), None, 200).await;
    (who, id)
}

/// PostgREST, straight: what a client of the database holding a user's token gets (status, body).
async fn rest(token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", var("CAREER_TEST_POSTGREST_URL")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A parsed plain-text résumé of `who` in `org`: its id and its upload form.
async fn parsed_resume(api: &Api, who: &str, org: &str, name: &str) -> (String, Value) {
    let created =
        api.ok(who, "POST", "/resumes", Some(json!({"org_id": org, "content_type": "text/plain"})), 201).await;
    let id = created["resume"]["id"].as_str().unwrap().to_owned();
    let text = resume_module::samples::resume_text(name, 1).join("\n");
    let (status, answer) = upload(&created["upload"], text.as_bytes(), None).await;
    assert!((200..300).contains(&status), "{status} {answer}");
    assert_eq!(api.processed(who, &id).await["state"], "parsed");
    (id, created["upload"].clone())
}

/// Done when (hardening, shares): a résumé shared with an organization is seen by its members only while its owner
/// is one of them, with an active identity, through the API and through PostgREST alike: leaving, being removed and
/// being deactivated each end the share at once; a share does not come back with the owner (they share again, which
/// a former member cannot); and a member reads the parsed sections, never the full text or the storage key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_follows_its_owners_live_membership() {
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, org) = owner_with_org(&api, &format!("share-{tag}")).await;
    let (writer, writer_id) = member_of(&api, &owner, &org, &format!("writer-{tag}@example.com")).await;
    let (reader, _) = member_of(&api, &owner, &org, &format!("reader-{tag}@example.com")).await;
    let (id, _) = parsed_resume(&api, &writer, &org, "Grace Writer").await;
    let visible = |who: String| {
        let id = id.clone();
        let api = &api;
        async move {
            let by_api = api.call(Some(&who), "GET", &format!("/resumes/{id}"), None).await.0;
            let (_, rows) = rest(&who, "GET", &format!("/resume?id=eq.{id}&select=id,sections"), None).await;
            (by_api, rows.as_array().map_or(0, Vec::len))
        }
    };
    let share = |on: bool| {
        let (writer, id) = (writer.clone(), id.clone());
        let api = &api;
        async move {
            let method = if on { "POST" } else { "DELETE" };
            api.call(Some(&writer), method, &format!("/resumes/{id}/share"), None).await
        }
    };
    let shared_in_db = || -> bool {
        tokio::task::block_in_place(|| {
            let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
            c.query_one("SELECT shared_at IS NOT NULL FROM resume WHERE id = $1::text::uuid", &[&id]).unwrap().get(0)
        })
    };

    assert_eq!(share(true).await.0, 200);
    assert_eq!(visible(reader.clone()).await, (200, 1), "shared: the member sees it, through the API and PostgREST");
    // Through PostgREST a member reads what the API shows: not the text, not the key. (PostgREST answers 403 with
    // PostgreSQL's 42501; the stand-in server hides the column and answers 400: both refuse, neither returns it.)
    for column in ["text", "object_key"] {
        let (status, body) = rest(&reader, "GET", &format!("/resume?id=eq.{id}&select=id,{column}"), None).await;
        assert!(matches!(status, 400 | 401 | 403), "{column}: {status} {body}");
        assert!(!body.to_string().contains("Grace"), "{column}: {body}");
    }

    // The owner of the résumé leaves: the share ends at once, and a former member cannot share it again.
    api.ok(&writer, "DELETE", &format!("/organizations/{org}/members/{writer_id}"), None, 200).await;
    assert_eq!(visible(reader.clone()).await, (404, 0), "its owner left: nobody there sees it");
    assert!(!shared_in_db(), "the share ended");
    let (status, body) = share(true).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(api.ok(&writer, "GET", &format!("/resumes/{id}"), None, 200).await["shared"], false);

    // Invited back, the owner finds the share ended; sharing again is a choice.
    member_of(&api, &owner, &org, &format!("writer-{tag}@example.com")).await;
    assert_eq!(visible(reader.clone()).await, (404, 0), "a share does not come back by itself");
    assert_eq!(share(true).await.0, 200);
    assert_eq!(visible(reader.clone()).await, (200, 1));

    // Removed by an owner: the same.
    api.ok(&owner, "DELETE", &format!("/organizations/{org}/members/{writer_id}"), None, 200).await;
    assert_eq!(visible(reader.clone()).await, (404, 0), "removed: nobody there sees it");
    member_of(&api, &owner, &org, &format!("writer-{tag}@example.com")).await;
    assert_eq!(share(true).await.0, 200);

    // Deactivated (as an admin or the reconciliation does): the same, and it stays ended when they come back.
    sql("UPDATE identities SET deactivated_at = now() WHERE id = $1::text::uuid", &[&writer_id]);
    assert_eq!(visible(reader.clone()).await, (404, 0), "deactivated: nobody sees it");
    assert!(!shared_in_db());
    sql("UPDATE identities SET deactivated_at = NULL WHERE id = $1::text::uuid", &[&writer_id]);
    assert_eq!(visible(reader.clone()).await, (404, 0));
    assert_eq!(api.ok(&writer, "GET", &format!("/resumes/{id}"), None, 200).await["shared"], false);
    api.ok(&writer, "DELETE", &format!("/resumes/{id}"), None, 200).await;
}

/// Done when (hardening, erasure): a row removed through PostgREST without its document (the last step of a DELETE
/// called alone) leaves its key to the sweep, which erases every version left; a second upload with the same form is
/// erased, never read; and a deactivated person's résumés are erased by the sweep once the retention has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_cannot_be_skipped_and_one_upload_is_read() {
    use route_registry::modules::resume::ERASURE_GRACE_MIN;
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, org) = owner_with_org(&api, &format!("erase-{tag}")).await;
    let sweep = || async { api.local("POST", "/_local/schedules/resume-erasure-sweep").await };

    // One upload is read: a second object with the same form is erased on arrival, the first is kept.
    let (id, form) = parsed_resume(&api, &owner, &org, "Ada Once").await;
    let key = form["fields"]["key"].as_str().unwrap().to_owned();
    let (status, _) = upload(&form, b"Someone Else\nSkills\nnothing", None).await;
    assert!((200..300).contains(&status));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while api.versions(&key).len() != 1 {
        assert!(std::time::Instant::now() < deadline, "the second upload was not erased: {:?}", api.versions(&key));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts: i32 = tokio::task::block_in_place(|| {
        let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
        c.query_one("SELECT attempts FROM resume WHERE id = $1::text::uuid", &[&id]).unwrap().get(0)
    });
    assert_eq!(attempts, 1, "read once");
    let resume = api.ok(&owner, "GET", &format!("/resumes/{id}"), None, 200).await;
    assert!(resume["sections"]["contact"].as_str().unwrap().contains("Ada Once"), "the first upload stays: {resume}");

    // The last step of a DELETE called alone through PostgREST: the row goes, its key waits for the sweep.
    // (A function returning void answers 204 in PostgREST 11 and later, a value 200.)
    assert!((200..300).contains(&rest(&owner, "POST", "/rpc/resume_to_erase", Some(json!({"p_id": id}))).await.0));
    assert!((200..300).contains(&rest(&owner, "POST", "/rpc/delete_resume", Some(json!({"p_id": id}))).await.0));
    assert_eq!(resume_rows(&id), 0);
    assert!(!api.versions(&key).is_empty(), "nothing erased the document yet");
    sql(
        "UPDATE app.erased_resume SET erased_at = now() - make_interval(mins => $2) WHERE object_key = $1",
        &[&key, &((ERASURE_GRACE_MIN + 1) as i32)],
    );
    let (status, run) = sweep().await;
    assert_eq!((status, &run["ok"]), (200, &json!(true)), "{run}");
    assert!(api.versions(&key).is_empty(), "the sweep erased what the client left: {:?}", api.versions(&key));

    // A deactivated person's résumé: kept through the retention, erased by the sweep after it.
    let login = format!("leaver-{tag}@example.com");
    let (leaver, leaver_id) = member_of(&api, &owner, &org, &login).await;
    let (kept, kept_form) = parsed_resume(&api, &leaver, &org, "Leaving Person").await;
    let kept_key = kept_form["fields"]["key"].as_str().unwrap().to_owned();
    sql("UPDATE identities SET deactivated_at = now() - interval '29 days' WHERE id = $1::text::uuid", &[&leaver_id]);
    sweep().await;
    assert_eq!(resume_rows(&kept), 1, "within the retention the résumé stays");
    sql("UPDATE identities SET deactivated_at = now() - interval '31 days' WHERE id = $1::text::uuid", &[&leaver_id]);
    sweep().await;
    abandon_erasure(&kept, ERASURE_GRACE_MIN + 1);
    sweep().await;
    assert_eq!(resume_rows(&kept), 0, "after the retention the sweep erases it");
    assert!(api.versions(&kept_key).is_empty(), "{:?}", api.versions(&kept_key));
}

/// Done when (hardening, processing per person): a person creates at most the hour's résumés; beyond, 429 with
/// Retry-After, deletions included in the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_an_hour_are_bounded_per_person() {
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, org) = owner_with_org(&api, &format!("hourly-{tag}")).await;
    let per_hour: i64 = tokio::task::block_in_place(|| {
        let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
        c.query_one("SELECT max_resumes_per_hour::bigint FROM app.settings", &[]).unwrap().get(0)
    });
    let create = json!({"org_id": org, "content_type": "text/plain"});
    for i in 0..per_hour {
        let created = api.ok(&owner, "POST", "/resumes", Some(create.clone()), 201).await;
        if i % 2 == 0 {
            let id = created["resume"]["id"].as_str().unwrap();
            api.ok(&owner, "DELETE", &format!("/resumes/{id}"), None, 200).await;
        }
    }
    let response =
        api.http.post(format!("{}/resumes", api.base)).bearer_auth(&owner).json(&create).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
}

/// The reconciliation's event lines of the captured output: (items, anomalies) per run.
fn reconcile_runs() -> Vec<(u64, Vec<String>)> {
    module_runtime::metrics::take_captured()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["Function"] == "okta-reconcile" && l["Events"] == 1)
        .map(|l| {
            let anomalies = l["anomalies"].as_array().into_iter().flatten();
            (l["Items"].as_u64().unwrap_or(0), anomalies.map(|a| a.as_str().unwrap_or_default().to_owned()).collect())
        })
        .collect()
}

/// Done when (hardening, Okta trusted too far): the reconciliation pages over more than one run (1,001 users at
/// 1,000 a run), never moves its cursor past its run's start for a status change "in the year 9999" (so a later
/// deactivation is still applied), and ends a run whose pages link back to themselves after a bounded number of
/// requests; each wrong answer is an anomaly of the run's event line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciliation_bounds_what_okta_answers() {
    use route_registry::modules::org::RECONCILE_MAX_USERS;
    let _turn = LINES.lock().await;
    let api = start().await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let run = || async {
        let (status, answer) = api.local("POST", "/_local/schedules/org-okta-reconcile").await;
        assert_eq!((status, &answer["ok"]), (200, &json!(true)), "{answer}");
        reconcile_runs().pop().expect("the run wrote its line")
    };
    module_runtime::metrics::take_captured();

    // 1,001 people deactivated in Okta, each with an identity here: the first run takes 1,000, the next the last.
    let total = RECONCILE_MAX_USERS + 1;
    let (mut logins, mut ids) = (Vec::new(), Vec::new());
    for i in 0..total {
        let login = format!("gone-{i}-{tag}@example.com");
        ids.push(api.okta.add_user(&login, &login, "Gone", "Person", "DEPROVISIONED"));
        logins.push(login);
    }
    sql(
        "INSERT INTO identities (idp_subject, email, okta_id) SELECT l, l, o FROM unnest($1::text[], $2::text[]) AS t(l, o)",
        &[&logins, &ids],
    );
    assert_eq!(run().await, (RECONCILE_MAX_USERS as u64, vec![]), "a run takes its 1,000");
    assert_eq!(run().await, (1, vec![]), "the next run resumes where it stopped");
    assert_eq!(run().await, (0, vec![]), "and then nothing is left");

    // A status change "in the year 9999": its user is deactivated, the cursor stays at the run's start at most, and
    // a deactivation after it is still applied.
    let future = format!("future-{tag}@example.com");
    let future_id = api.okta.add_user(&future, &future, "Future", "Person", "DEPROVISIONED");
    assert!(api.okta.set_status_changed(&future, "9999-12-31T23:59:59.000Z"));
    sql("INSERT INTO identities (idp_subject, email, okta_id) VALUES ($1, $1, $2)", &[&future, &future_id]);
    let (items, anomalies) = run().await;
    assert_eq!(items, 1);
    assert!(anomalies.iter().any(|a| a.contains("in the future")), "{anomalies:?}");
    let cursor_in_future: bool = tokio::task::block_in_place(|| {
        let mut c = postgres::Client::connect(&var("CAREER_TEST_DATABASE_URL"), postgres::NoTls).unwrap();
        c.query_one("SELECT cursor_at > now() FROM app.idp_sync", &[]).unwrap().get(0)
    });
    assert!(!cursor_in_future, "the cursor never passes now");
    let later = format!("later-{tag}@example.com");
    let later_id = api.okta.add_user(&later, &later, "Later", "Person", "ACTIVE");
    sql("INSERT INTO identities (idp_subject, email, okta_id) VALUES ($1, $1, $2)", &[&later, &later_id]);
    assert!(api.okta.set_status(&later, "SUSPENDED"));
    assert_eq!(run().await.0, 1, "a deactivation after the wrong answer is applied");

    // Pages that link back to the first page forever: the run ends at the repeated link, in a few requests.
    api.okta.set_fault(standins::okta::Fault::LoopingPages);
    let searches = || api.okta.exchanges().iter().filter(|e| e.query.contains("search=")).count();
    let before = searches();
    let (_, anomalies) = run().await;
    api.okta.set_fault(standins::okta::Fault::None);
    let requests = searches() - before;
    assert!(anomalies.iter().any(|a| a.contains("does not advance")), "{anomalies:?}");
    assert!(requests <= route_registry::modules::org::RECONCILE_MAX_PAGES, "{requests} search requests in one run");
}
