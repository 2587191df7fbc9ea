//! The service principal in the database: a function without a caller reaches PostgREST with a token of its own
//! (client credentials, `role: service`), which the database maps to a module; it may execute exactly the functions
//! its module declares in the catalog and nothing else, and no user token may execute those. Straight against
//! PostgREST with tokens the development issuer signs as the local authorization server does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use std::collections::BTreeSet;

use common::{insert_identity, services, su, unique, User};
use serde_json::{json, Value};

/// PostgREST itself, with a bearer token.
async fn rest(token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/{path}", services().rest_url))
        .bearer_auth(token)
        .header("content-type", "application/json");
    if let Some(b) = body {
        request = request.body(b.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A service client registered for `module`, and a token for it.
fn client(module: &str, tag: &str) -> (String, String) {
    let id = format!("svc-{module}-{tag}");
    su(|c| c.execute("INSERT INTO app.service_principal (client_id, module) VALUES ($1, $2)", &[&id, &module]))
        .unwrap();
    let token = dev_issuer::service_token(&id, &["career.service"], 600).unwrap();
    (id, token)
}

fn person(name: &str, tag: &str) -> User {
    let mut user = User::new(&format!("{name}-{tag}@example.com"));
    user.id = insert_identity(&user.sub, name, tag);
    user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_registered_client_acts_as_its_module_and_only_through_its_functions() {
    let tag = unique();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let (_, org) = client("org-module", &tag);
    let (status, state) = rest(&org, get.clone(), "rpc/okta_sync_state", None).await;
    assert_eq!(status, 200, "{state}");
    assert!(state["cursor_at"].is_string(), "{state}");

    // Another module's service principal may not call org-module's functions.
    let (_, other) = client("resume-module", &tag);
    let (status, body) = rest(&other, get.clone(), "rpc/okta_sync_state", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("only the service principal of org-module"), "{body}");

    // A client nobody registered is refused before anything runs; so is a token whose `cid` is another client.
    let stranger = dev_issuer::service_token(&format!("svc-nobody-{tag}"), &["career.service"], 600).unwrap();
    let (status, body) = rest(&stranger, get.clone(), "rpc/okta_sync_state", None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("not of a registered service client"), "{body}");
    let mismatched = {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(dev_issuer::KID.into());
        dev_issuer::sign_raw(
            &header,
            &json!({"iss": dev_issuer::ISSUER, "aud": dev_issuer::audience("dev"), "sub": format!("svc-org-module-{tag}"),
                    "cid": "someone-else", "role": "service", "iat": now, "exp": now + 600}),
        )
        .unwrap()
    };
    let (status, _) = rest(&mismatched, get.clone(), "rpc/okta_sync_state", None).await;
    assert_eq!(status, 403);

    // No table, not even to read (refused, or not even visible); no API function of users.
    for path in ["org?select=id", "identities?select=id", "task?select=id", "org_invitation?select=id"] {
        let (status, body) = rest(&org, get.clone(), path, None).await;
        assert!(matches!(status, 401 | 403 | 404), "{path}: {status} {body}");
    }
    let (status, body) = rest(&org, post.clone(), "rpc/create_org_with_member", Some(json!({"p_name": "Svc"}))).await;
    assert!(matches!(status, 401 | 403 | 404), "{status} {body}");

    // A user's token cannot call the service functions.
    let user = person("user", &tag);
    let (status, body) = rest(&user.token, get, "rpc/okta_sync_state", None).await;
    assert!(matches!(status, 401 | 403 | 404), "{status} {body}");
    let (status, body) = rest(
        &user.token,
        post,
        "rpc/import_invitation_lines",
        Some(json!({"p_task_id": uuid::Uuid::new_v4(), "p_first": 1, "p_last": 1})),
    )
    .await;
    assert!(matches!(status, 401 | 403 | 404), "{status} {body}");
}

/// The grants follow the catalog: the service role executes exactly the functions the modules declare
/// (`Module::service_functions`), each of which checks that the caller is its own module's service principal; the
/// API role executes none of them.
#[test]
fn the_service_role_executes_exactly_what_the_catalog_declares() {
    let mut client = postgres::Client::connect(&services().pg_url, postgres::NoTls).unwrap();
    let granted: BTreeSet<String> = client
        .query(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND has_function_privilege('service', p.oid, 'EXECUTE')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The deployed modules' functions must all be there; the template's are when its test applied its migration.
    let template = route_registry::modules::template::MODULE;
    let all: Vec<route_registry::Module> = route_registry::MODULES.iter().copied().chain([template]).collect();
    let declared: BTreeSet<String> =
        all.iter().flat_map(|m| m.service_functions.iter().map(|f| (*f).to_owned())).collect();
    let deployed: BTreeSet<String> =
        route_registry::MODULES.iter().flat_map(|m| m.service_functions.iter().map(|f| (*f).to_owned())).collect();
    assert!(granted.is_superset(&deployed), "missing: {:?}", deployed.difference(&granted).collect::<Vec<_>>());
    assert!(
        granted.is_subset(&declared),
        "not in the catalog: {:?}",
        granted.difference(&declared).collect::<Vec<_>>()
    );
    for module in all.iter().filter(|m| m.service_functions.iter().all(|f| granted.contains(*f))) {
        for name in module.service_functions {
            let row = client
                .query_one(
                    "SELECT p.prosrc, has_function_privilege('authenticated', p.oid, 'EXECUTE'),
                            has_function_privilege('anon', p.oid, 'EXECUTE')
                     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = 'public' AND p.proname = $1",
                    &[name],
                )
                .unwrap();
            let (source, user, anon): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
            assert!(
                source.contains(&format!("app.require_service('{}')", module.name)),
                "{name} must check that the caller is {}'s service principal",
                module.name
            );
            assert!(!user && !anon, "{name} is executable by a user's role");
        }
    }
}

/// SQS delivers at least once: the same range handled twice (or overlapping ranges) creates each invitation once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_handled_twice_has_one_effect() {
    let tag = unique();
    let post = reqwest::Method::POST;
    let owner = person("owner", &tag);
    let (status, org) =
        rest(&owner.token, post.clone(), "rpc/create_org_with_member", Some(json!({"p_name": format!("R {tag}")})))
            .await;
    assert_eq!(status, 200, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();
    let lines: Vec<Value> =
        (1..=3).map(|n| json!({"line": n, "address": format!("ranged-{n}-{tag}@example.com")})).collect();
    let (status, task) = rest(
        &owner.token,
        post.clone(),
        "rpc/start_invitation_import",
        Some(json!({"p_org_id": org_id, "p_lines": lines})),
    )
    .await;
    assert_eq!((status, &task["state"]), (200, &json!("queued")), "{task}");
    let task_id = task["id"].as_str().unwrap().to_owned();
    let (_, service) = client("org-module", &tag);
    let range = |first: i32, last: i32| json!({"p_task_id": task_id, "p_first": first, "p_last": last});
    let (status, first) = rest(&service, post.clone(), "rpc/import_invitation_lines", Some(range(1, 2))).await;
    assert_eq!((status, &first["state"], &first["done"]), (200, &json!("running"), &json!(2)), "{first}");
    for (a, b) in [(1, 2), (1, 3), (1, 3)] {
        let (status, again) = rest(&service, post.clone(), "rpc/import_invitation_lines", Some(range(a, b))).await;
        assert_eq!(status, 200, "{again}");
    }
    let count: i64 = su(|c| {
        c.query_one("SELECT count(*) FROM org_invitation WHERE org_id = $1::text::uuid", &[&org_id]).unwrap().get(0)
    });
    assert_eq!(count, 3, "each line once");
    let (status, done) = rest(&owner.token, reqwest::Method::GET, &format!("rpc/get_task?p_id={task_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!((&done["state"], &done["result"]["created"]), (&json!("succeeded"), &json!(3)), "{done}");
    // Nobody else sees the task.
    let stranger = person("stranger", &tag);
    let (status, _) = rest(&stranger.token, reqwest::Method::GET, &format!("rpc/get_task?p_id={task_id}"), None).await;
    assert_eq!(status, 404);
    // Imports are for owners, and one at a time per organization.
    let (status, body) = rest(
        &owner.token,
        post.clone(),
        "rpc/start_invitation_import",
        Some(json!({"p_org_id": org_id, "p_lines": [{"line": 1, "address": format!("x-{tag}@example.com")}]})),
    )
    .await;
    assert_eq!(status, 200, "the first finished, so a second may start: {body}");
    let (status, body) = rest(
        &owner.token,
        post,
        "rpc/start_invitation_import",
        Some(json!({"p_org_id": org_id, "p_lines": [{"line": 1, "address": format!("y-{tag}@example.com")}]})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

/// The service identity against the token endpoint (the Okta stand-in, held to Okta's OAuth API by the contract
/// check): a token is requested once and cached until shortly before it expires; what Okta refuses (an unknown key,
/// a scope the application may not have, a replayed assertion) fails as a dependency error, never as a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_token_is_cached_renewed_and_refused_as_okta_refuses() {
    use module_runtime::aws::{Aws, AwsConfig};
    use module_runtime::service_identity::{ServiceConfig, ServiceIdentity};
    use std::time::{Duration, Instant};

    let okta = standins::okta::OktaStandin::start("svc").unwrap();
    let kms = standins::kms::KmsStandin::start().unwrap();
    let key = kms.create_key().unwrap();
    let tag = unique();
    let client_id = format!("svc-cache-{tag}");
    okta.register_client(&client_id, key.jwk.clone(), &["career.service"]);
    let http = reqwest::Client::new();
    let aws = Aws::new(
        http.clone(),
        AwsConfig {
            region: "us-east-1".into(),
            access_key_id: "local".into(),
            secret_access_key: "local".into(),
            session_token: None,
            sqs_endpoint: None,
            kms_endpoint: Some(kms.url.clone()),
        },
    );
    let config = |client: &str, key_id: &str, scope: &str| ServiceConfig {
        token_url: okta.token_url(),
        client_id: client.to_owned(),
        key_id: key_id.to_owned(),
        scope: scope.to_owned(),
    };
    let soon = || Instant::now() + Duration::from_secs(10);

    let identity = ServiceIdentity::new(http.clone(), aws.clone(), config(&client_id, &key.arn, "career.service"));
    let first = identity.token(soon()).await.unwrap();
    assert_eq!(identity.token(soon()).await.unwrap(), first, "cached");
    assert_eq!((kms.signs(), okta.tokens_issued()), (1, 1));
    identity.forget().await;
    assert_ne!(identity.token(soon()).await.unwrap(), first, "a refused token is replaced");
    assert_eq!(okta.tokens_issued(), 2);

    // Renewed before it expires: a 2-second token is renewed after one second.
    okta.set_token_ttl(2);
    let short = ServiceIdentity::new(http.clone(), aws.clone(), config(&client_id, &key.arn, "career.service"));
    let a = short.token(soon()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_ne!(short.token(soon()).await.unwrap(), a, "renewed");
    okta.set_token_ttl(3600);

    // A key the application did not register, and a scope it may not have: refused, as Okta does.
    let other = kms.create_key().unwrap();
    let wrong_key = ServiceIdentity::new(http.clone(), aws.clone(), config(&client_id, &other.arn, "career.service"));
    let refused = wrong_key.token(soon()).await.unwrap_err();
    assert_eq!(refused.status(), 502, "{refused:?}");
    assert!(refused.log_detail().contains("invalid_client"), "{}", refused.log_detail());
    let wrong_scope =
        ServiceIdentity::new(http.clone(), aws.clone(), config(&client_id, &key.arn, "okta.users.manage"));
    let refused = wrong_scope.token(soon()).await.unwrap_err();
    assert!(refused.log_detail().contains("invalid_scope"), "{}", refused.log_detail());
    let unknown = ServiceIdentity::new(http.clone(), aws, config("nobody", &key.arn, "career.service"));
    assert!(unknown.token(soon()).await.unwrap_err().log_detail().contains("invalid_client"));

    // A replayed assertion (the same `jti`) is refused too.
    let replay = okta
        .exchanges()
        .into_iter()
        .find(|x| x.path.ends_with("/v1/token") && x.status == 200)
        .and_then(|x| x.body)
        .unwrap();
    let fields: Vec<(String, String)> =
        replay.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    let again = http.post(okta.token_url()).form(&fields).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 401);
    let answer: Value = again.json().await.unwrap();
    assert_eq!(answer["error"], "invalid_client", "{answer}");
}

/// Every import ends, and imports count against whoever sends them. A task made straight through PostgREST (its work
/// never queued) blocks the organization's imports only until it is cancelled or its bound passes; a running one whose
/// messages stopped (in the dead-letter queue) fails with the reason and resumes when they come back; whoever started a
/// task or an owner of its organization may cancel it, after which its messages do nothing; and one person imports
/// at most `max_import_lines_per_hour` addresses an hour across their organizations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_import_ends_and_imports_count_against_their_sender() {
    let tag = unique();
    let post = reqwest::Method::POST;
    let owner = person("owner", &tag);
    let org = |name: &'static str| {
        let token = owner.token.clone();
        let tag = tag.clone();
        async move {
            let (status, org) = rest(
                &token,
                reqwest::Method::POST,
                "rpc/create_org_with_member",
                Some(json!({"p_name": format!("{name} {tag}")})),
            )
            .await;
            assert_eq!(status, 200, "{org}");
            org["id"].as_str().unwrap().to_owned()
        }
    };
    let (a, b) = (org("A").await, org("B").await);
    let lines = |n: usize, prefix: &str| -> Value {
        (1..=n).map(|i| json!({"line": i, "address": format!("{prefix}-{i}-{tag}@example.com")})).collect()
    };
    let start = |org_id: String, lines: Value| {
        let token = owner.token.clone();
        async move {
            rest(
                &token,
                reqwest::Method::POST,
                "rpc/start_invitation_import",
                Some(json!({"p_org_id": org_id, "p_lines": lines})),
            )
            .await
        }
    };
    let task_of = |id: &str| {
        let (token, id) = (owner.token.clone(), id.to_owned());
        async move { rest(&token, reqwest::Method::GET, &format!("rpc/get_task?p_id={id}"), None).await.1 }
    };
    let stall = |id: &str| {
        su(|c| {
            c.execute(
                "UPDATE task SET updated_at = now() - (SELECT task_stall_after FROM app.settings) - interval '1 minute' \
                 WHERE id = $1::text::uuid",
                &[&id],
            )
        })
        .unwrap()
    };
    let (_, service) = client("org-module", &tag);

    // 1. Made straight through PostgREST: queued, nothing will run it; the next import is refused, saying how to go on.
    let (status, never) = start(a.clone(), lines(3, "never")).await;
    assert_eq!((status, &never["state"]), (200, &json!("queued")), "{never}");
    let never_id = never["id"].as_str().unwrap().to_owned();
    let (status, body) = start(a.clone(), lines(3, "second")).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(&never_id) && body["message"].as_str().unwrap().contains("cancel"),
        "{body}"
    );
    // Past its bound it no longer blocks: the next start ends it, with the reason.
    stall(&never_id);
    let (status, running) = start(a.clone(), lines(3, "resumed")).await;
    assert_eq!(status, 200, "{running}");
    let ended = task_of(&never_id).await;
    assert_eq!(ended["state"], json!("failed"), "{ended}");
    assert!(ended["error"].as_str().unwrap().contains("never queued"), "{ended}");

    // 2. Running, then its messages stop: the schedule's call fails it, naming the dead-letter queue; the messages
    //    moved back finish it.
    let running_id = running["id"].as_str().unwrap().to_owned();
    let range = |first: i32, last: i32| json!({"p_task_id": running_id, "p_first": first, "p_last": last});
    let (status, one) = rest(&service, post.clone(), "rpc/import_invitation_lines", Some(range(1, 1))).await;
    assert_eq!((status, &one["state"]), (200, &json!("running")), "{one}");
    stall(&running_id);
    let (status, swept) = rest(&service, post.clone(), "rpc/end_stalled_tasks", Some(json!({}))).await;
    assert_eq!(status, 200, "{swept}");
    assert!(swept["ended"].as_i64().unwrap() >= 1, "{swept}");
    let failed = task_of(&running_id).await;
    assert_eq!((&failed["state"], &failed["done"]), (&json!("failed"), &json!(1)), "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("dead-letter queue"), "{failed}");
    let (status, resumed) = rest(&service, post.clone(), "rpc/import_invitation_lines", Some(range(2, 3))).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!((&resumed["state"], &resumed["result"]["created"]), (&json!("succeeded"), &json!(3)), "{resumed}");
    assert_eq!(resumed["error"], Value::Null, "{resumed}");
    // The schedule's function is the service's alone.
    let (status, _) = rest(&owner.token, post.clone(), "rpc/end_stalled_tasks", Some(json!({}))).await;
    assert!(status == 401 || status == 403, "a user may not sweep: {status}");

    // 3. Cancelled by whoever started it: its messages then do nothing; a finished task cannot be cancelled.
    let (status, queued) = start(a.clone(), lines(2, "cancelled")).await;
    assert_eq!(status, 200, "{queued}");
    let queued_id = queued["id"].as_str().unwrap().to_owned();
    let stranger = person("stranger", &tag);
    let cancel = |token: String, id: String| async move {
        rest(&token, reqwest::Method::POST, "rpc/cancel_task", Some(json!({"p_id": id}))).await
    };
    let (status, _) = cancel(stranger.token.clone(), queued_id.clone()).await;
    assert_eq!(status, 404, "a stranger cannot see it, so cannot cancel it");
    let (status, cancelled) = cancel(owner.token.clone(), queued_id.clone()).await;
    assert_eq!((status, &cancelled["state"]), (200, &json!("cancelled")), "{cancelled}");
    assert!(cancelled["finished_at"].is_string(), "{cancelled}");
    let (status, again) = cancel(owner.token.clone(), queued_id.clone()).await;
    assert_eq!(status, 409, "{again}");
    let (status, late) = rest(
        &service,
        post.clone(),
        "rpc/import_invitation_lines",
        Some(json!({"p_task_id": queued_id, "p_first": 1, "p_last": 2})),
    )
    .await;
    assert_eq!((status, &late["state"], &late["done"]), (200, &json!("cancelled"), &json!(0)), "{late}");
    let (status, done) = cancel(owner.token.clone(), running_id.clone()).await;
    assert_eq!(status, 409, "a finished task cannot be cancelled: {done}");

    // An owner of the organization who did not start it may cancel it too.
    let (status, by_owner) = start(a.clone(), lines(1, "co")).await;
    assert_eq!(status, 200, "{by_owner}");
    let co_owner = person("co-owner", &tag);
    su(|c| {
        c.execute(
            "INSERT INTO org_member (org_id, user_id, role, created_by) \
             VALUES ($1::text::uuid, $2::text::uuid, 'owner', $3::text::uuid)",
            &[&a, &co_owner.id, &owner.id],
        )
    })
    .unwrap();
    let (status, body) = cancel(co_owner.token.clone(), by_owner["id"].as_str().unwrap().to_owned()).await;
    assert_eq!((status, &body["error"]), (200, &json!("cancelled by an owner of the organization")), "{body}");

    // 4. The sender's hourly import budget, across organizations: 3 (failed) + 3 (succeeded) + 0 and 0 (cancelled
    //    before any line) so far.
    let budget: i32 = su(|c| c.query_one("SELECT max_import_lines_per_hour FROM app.settings", &[]).unwrap().get(0));
    let used = 6;
    let over = budget as usize - used + 1;
    let (status, body) = start(b.clone(), lines(over, "budget")).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["message"].as_str().unwrap().contains("in the last hour"), "{body}");
    let (status, body) = start(b.clone(), lines(over - 1, "budget")).await;
    assert_eq!((status, &body["state"]), (200, &json!("queued")), "exactly the budget is allowed: {body}");
    // Someone else's budget is their own.
    let other = person("other", &tag);
    let (status, other_org) =
        rest(&other.token, post.clone(), "rpc/create_org_with_member", Some(json!({"p_name": format!("O {tag}")})))
            .await;
    assert_eq!(status, 200, "{other_org}");
    let (status, body) = rest(
        &other.token,
        post,
        "rpc/start_invitation_import",
        Some(json!({"p_org_id": other_org["id"], "p_lines": lines(1, "other")})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
