//! A function's configuration from Secrets Manager (a stand-in speaking its JSON protocol, behind a fault proxy):
//! a missing, malformed or unreachable secret fails each request with a clear status and is never cached, so the
//! next request retries it and a fixed secret is picked up without a redeploy; a credential the dependency
//! refuses (a rotated key) makes the container read the secret again.
//!
//! One test, because it sets the process environment a container reads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use std::time::Duration;

use common::{insert_identity, services, unique, User};
use module_runtime::{events, timeouts, Container};
use route_registry::modules::org;
use serde_json::{json, Value};
use standins::fixed::FixedServer;
use standins::proxy::{FaultProxy, Mode};
use standins::secrets::{Answer, SecretsStandin};

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:career-dev-supabase-AbCdEf";

async fn get_me(container: &Container, user: &User) -> (u16, Value, Duration) {
    let auth = format!("Bearer {}", user.token);
    let mut event = events::http_request("GET", "/profiles/me", &[("authorization", &auth)], None);
    events::authorize(&mut event, &json!({"sub": user.sub, "email": user.email, "groups": "[]"}));
    let start = std::time::Instant::now();
    let response = module_runtime::registration::handle_http(
        org_module::FUNCTIONS,
        route_registry::modules::org::PROFILES,
        container,
        events::into_request(event),
    )
    .await
    .expect("profiles is an org-module function");
    let elapsed = start.elapsed();
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    };
    (response.status().as_u16(), body, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_failures_are_clear_never_cached_and_a_rotated_key_is_read_again() {
    module_runtime::logging::init_for_tests();
    module_runtime::metrics::capture();
    let rest = services().rest_url;
    let good =
        json!({"url": "https://project.supabase.invalid", "rest_url": rest, "anon_key": "publishable"}).to_string();
    let secrets = SecretsStandin::start(Answer::NotFound).unwrap();
    let proxy = FaultProxy::start(secrets.addr).unwrap();
    // The environment Lambda gives the function (region and credentials) and the stacks set (the ARN).
    for (k, v) in [
        ("SUPABASE_SECRET_ARN", ARN.to_owned()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", proxy.url()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
        ("AWS_SECRET_ACCESS_KEY", "example".into()),
    ] {
        std::env::set_var(k, v);
    }
    let tag = unique();
    let mut user = User::new(&format!("config-{tag}@example.com"));
    user.id = insert_identity(&user.sub, "Con", "Fig");
    let container = Container::from_environment(org::PROFILES).unwrap();

    // A missing secret: the operator's to fix, so 500, and retried on every request.
    let (status, body, _) = get_me(&container, &user).await;
    assert_eq!((status, &body["error"]), (500, &json!("Internal server error")), "{body}");
    let calls = secrets.calls();
    get_me(&container, &user).await;
    assert!(secrets.calls() > calls, "a failed load is not cached");

    // A malformed secret: 500 too.
    secrets.set(Answer::Secret("not json".into()));
    assert_eq!(get_me(&container, &user).await.0, 500);

    // Secrets Manager failing: 503 with Retry-After; hanging: 504 within its bound.
    secrets.set(Answer::ServiceError);
    let (status, body, _) = get_me(&container, &user).await;
    assert_eq!(
        (status, &body["error"]),
        (503, &json!("the configuration store is unavailable; retry in 5 s")),
        "{body}"
    );
    secrets.set(Answer::Secret(good.clone()));
    proxy.set(Mode::Blackhole);
    let (status, body, elapsed) = get_me(&container, &user).await;
    assert_eq!((status, &body["error"]), (504, &json!("the configuration store did not answer in time")), "{body}");
    assert!(elapsed <= timeouts::SECRET_OPERATION + Duration::from_millis(750), "answered after {elapsed:?}");

    // Fixed: the next request loads it and is served; later ones do not read it again.
    proxy.set(Mode::Pass);
    let (status, body, _) = get_me(&container, &user).await;
    assert_eq!(status, 200, "{body}");
    let calls = secrets.calls();
    assert_eq!(get_me(&container, &user).await.0, 200);
    assert_eq!(secrets.calls(), calls, "a loaded configuration is kept");

    // The key rotated: the gateway refuses the old one, the container reads the secret again.
    let refusing =
        FixedServer::with_status(401, json!({"message": "Invalid API key"}).to_string(), "application/json").unwrap();
    let container = Container::from_environment(org::PROFILES).unwrap();
    let stale =
        json!({"url": "https://project.supabase.invalid", "rest_url": refusing.url(), "anon_key": "old"}).to_string();
    secrets.set(Answer::Secret(stale));
    let (status, body, _) = get_me(&container, &user).await;
    assert_eq!(status, 503, "{body}");
    secrets.set(Answer::Secret(good));
    let calls = secrets.calls();
    let (status, body, _) = get_me(&container, &user).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(secrets.calls(), calls + 1, "the refused key made the container read the secret again");
}
