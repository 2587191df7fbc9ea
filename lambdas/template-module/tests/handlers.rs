//! template-module's handler without a database: 401 without a caller, and 400s naming the field. Routing and
//! catalog coverage are tested where they live (module-runtime's dispatch, the generated all-modules). The database
//! client points at a closed port, so a request that wrongly reached it would answer 503 and fail its test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use module_runtime::{events, Config, Container, DbConfig};
use serde_json::{json, Value};

fn container() -> Container {
    // Request lines stay in memory instead of filling the test output.
    module_runtime::metrics::capture();
    let config = Config {
        db: Some(DbConfig { rest_url: "http://127.0.0.1:1".into(), anon_key: String::new() }),
        okta: None,
        ..Default::default()
    };
    Container::with_config(
        route_registry::modules::template::GIZMOS,
        module_runtime::http_client::client().unwrap(),
        config,
    )
}

async fn send(method: &str, path: &str, caller: bool, body: Option<&str>) -> (u16, Value) {
    let mut headers = vec![("content-type", "application/json")];
    if caller {
        headers.push(("authorization", "Bearer a.b.c"));
    }
    let mut event = events::http_request(method, path, &headers, body.map(str::to_owned));
    if caller {
        events::authorize(&mut event, &json!({"sub": "00u-test", "email": "t@example.com", "groups": "[]"}));
    }
    let response = module_runtime::registration::handle_http(
        template_module::FUNCTIONS,
        route_registry::modules::template::GIZMOS,
        &container(),
        events::into_request(event),
    )
    .await
    .expect("gizmos is a template-module function");
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    };
    (status, body)
}

#[tokio::test]
async fn identity_and_validation() {
    assert_eq!(send("GET", "/gizmos", false, None).await.0, 401);
    let (status, body) =
        send("POST", "/gizmos", true, Some(r#"{"org_id":"6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11","name":""}"#)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("name: must be 1 to 100 characters")));
    assert_eq!(send("GET", "/gizmos/not-a-uuid", true, None).await.0, 400);
    assert_eq!(send("PUT", "/gizmos/6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11", true, Some("{}")).await.0, 400);
}
