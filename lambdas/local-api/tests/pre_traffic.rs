//! The deploy's pre-traffic check against the real handlers: every function of the catalog answers each of its
//! probes (`module_runtime::pre_traffic`) as the check expects, in process, with no service reachable (the database
//! and the identity provider behind closed ports, so a probe that wrongly did work would fail), and a handler that
//! served a route without a caller would fail the check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::time::{Duration, Instant};

use module_runtime::pre_traffic::{judge, probes, Expect, Probe};
use module_runtime::registration::Handler;
use module_runtime::{events, work, Config, Container, DbConfig};
use route_registry::{Function, Trigger};
use serde_json::{json, Value};

fn container(f: Function) -> Container {
    module_runtime::metrics::capture();
    let config = Config {
        db: Some(DbConfig { rest_url: "http://127.0.0.1:1".into(), anon_key: String::new() }),
        okta: None,
        ..Default::default()
    };
    Container::with_config(f, module_runtime::http_client::client().unwrap(), config)
}

/// What the function's version answers to `probe`: the payload and whether Lambda would report a function error.
async fn invoke(f: Function, probe: &Probe) -> (Value, bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    if f.trigger == Trigger::Authorizer {
        let config = platform_authorizer::Config::new(
            "https://issuer.invalid".into(),
            "api://career-dev".into(),
            "http://127.0.0.1:1/keys".into(),
        );
        let authorizer = platform_authorizer::Authorizer::new(config).unwrap();
        let answer = authorizer.handle(&serde_json::from_value(probe.event.clone()).unwrap()).await;
        return (serde_json::to_value(answer).unwrap(), false);
    }
    let registration = all_modules::registration(f).expect("every catalog function is registered");
    let container = container(f);
    match registration.handler {
        Handler::Http(h) => {
            let request = events::into_request(serde_json::from_value(probe.event.clone()).unwrap());
            let response = h.handle(&container, request).await;
            (json!({"statusCode": response.status().as_u16()}), false)
        }
        Handler::Queue(on) => {
            let answer =
                work::queue_batch(on, &container, serde_json::from_value(probe.event.clone()).unwrap(), deadline).await;
            (serde_json::to_value(answer).unwrap(), false)
        }
        Handler::Schedule(on) => {
            let result =
                work::scheduled(on, &container, serde_json::from_value(probe.event.clone()).unwrap(), deadline).await;
            (Value::Null, result.is_err())
        }
        Handler::ObjectsCreated(on) => {
            let result =
                work::objects(on, &container, serde_json::from_value(probe.event.clone()).unwrap(), deadline).await;
            (Value::Null, result.is_err())
        }
    }
}

#[tokio::test]
async fn every_function_passes_its_pre_traffic_check() {
    let mut checked = 0;
    for f in route_registry::all_functions() {
        let list = probes(&f);
        assert!(!list.is_empty(), "{} has no probe", f.binary);
        if f.trigger == Trigger::Http {
            assert_eq!(
                list.len(),
                route_registry::all_routes().filter(|r| r.function == f).count(),
                "{}: one per route",
                f.binary
            );
        }
        for probe in &list {
            let (payload, failed) = invoke(f, probe).await;
            if let Err(e) = judge(probe, &payload, failed) {
                panic!("{}: {e}", f.binary);
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} probes");
}

#[test]
fn a_wrong_answer_fails_the_check() {
    let http = probes(&route_registry::modules::org::PROFILES).remove(0);
    assert_eq!(http.expect, Expect::Refused);
    // A version that served a route without a caller.
    assert!(judge(&http, &json!({"statusCode": 200}), false).is_err());
    assert!(judge(&http, &json!({"statusCode": 500}), false).is_err());
    assert!(judge(&http, &json!({"statusCode": 401}), false).is_ok());
    let queue = route_registry::all_functions().find(|f| matches!(f.trigger, Trigger::Queue(_))).unwrap();
    let probe = probes(&queue).remove(0);
    assert!(judge(&probe, &json!({"batchItemFailures": [{"itemIdentifier": "x"}]}), false).is_err());
    assert!(judge(&probe, &json!({"errorMessage": "boom"}), true).is_err());
    let denied = probes(&route_registry::AUTHORIZER).remove(0);
    assert!(judge(&denied, &json!({"isAuthorized": true}), false).is_err());
}
