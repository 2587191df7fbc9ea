//! When the database fails or hangs: a fault-injection proxy on 127.0.0.1 between the handlers and PostgREST adds
//! latency, blackholes, resets connections or answers 5xx. Each case asserts the status, the time to answer (the
//! database bound, `module_runtime::timeouts::DATABASE_REQUEST`, plus a margin) and that nothing was written twice or
//! half-written. Recovery is immediate once the fault is gone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{db_config, insert_identity, services, su, unique, Api, User};
use module_runtime::{timeouts, Config};
use serde_json::json;
use standins::proxy::{FaultProxy, Mode};

/// What a fault's answer may take beyond its bound on this machine (scheduling, the retry's connect).
const MARGIN: Duration = Duration::from_millis(750);

fn setup() -> (FaultProxy, Api, User, String) {
    module_runtime::logging::init_for_tests();
    let rest: SocketAddr = services().rest_url.trim_start_matches("http://").parse().unwrap();
    let proxy = FaultProxy::start(rest).unwrap();
    let api = Api::new(&Config { db: Some(db_config(&proxy.url())), okta: None, ..Default::default() });
    let tag = unique();
    let mut user = User::new(&format!("faulty-{tag}@example.com"));
    user.id = insert_identity(&user.sub, "Fay", "Ult");
    (proxy, api, user, tag)
}

fn orgs_named(name: &str) -> i64 {
    su(|c| c.query_one("SELECT count(*) FROM org WHERE name = $1", &[&name]).unwrap().get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_answers_its_status_within_the_bound() {
    let (proxy, api, user, _) = setup();
    api.expect(200, &user, "GET", "/organizations", None).await;
    let cases: Vec<(&str, Mode, u16, &str, Duration)> = vec![
        ("reset", Mode::Reset, 503, "the database is unavailable; retry in 5 s", Duration::ZERO),
        ("PostgREST 500", Mode::Status(500), 502, "the database answered with an error", Duration::ZERO),
        ("gateway 502", Mode::Status(502), 502, "the database answered with an error", Duration::ZERO),
        ("gateway 503", Mode::Status(503), 503, "the database is unavailable; retry in 5 s", Duration::ZERO),
        ("gateway 504", Mode::Status(504), 504, "the database did not answer in time", Duration::ZERO),
        ("blackhole", Mode::Blackhole, 504, "the database did not answer in time", timeouts::DATABASE_REQUEST),
        (
            "slower than the bound",
            Mode::Latency(Duration::from_secs(6)),
            504,
            "the database did not answer in time",
            timeouts::DATABASE_REQUEST,
        ),
    ];
    for (what, mode, status, message, bound) in cases {
        proxy.set(mode);
        let answer = api.call(Some(&user), "GET", "/organizations", None).await;
        assert_eq!((answer.status, answer.error()), (status, message), "{what}: {}", answer.body);
        assert!(answer.elapsed <= bound + MARGIN, "{what}: answered after {:?}", answer.elapsed);
        assert!(answer.elapsed + MARGIN >= bound, "{what}: answered before its bound ({:?})", answer.elapsed);
        if status == 503 {
            assert_eq!(answer.retry_after.as_deref(), Some("5"), "{what}");
        }
        // Recovery: the next request after the fault is gone succeeds.
        proxy.set(Mode::Pass);
        api.expect(200, &user, "GET", "/organizations", None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_is_retried_once_and_a_write_never() {
    let (proxy, api, user, tag) = setup();
    api.expect(200, &user, "GET", "/profiles/me", None).await;
    // A reset read: two connections (the first try and one retry), then 503.
    proxy.set(Mode::Reset);
    // The first request meets the pooled connection the proxy just closed; after it, every attempt connects anew.
    api.expect(503, &user, "GET", "/organizations", None).await;
    let before = proxy.accepted();
    api.expect(503, &user, "GET", "/organizations", None).await;
    assert_eq!(proxy.accepted() - before, 2, "one retry of the read");
    // A reset write: one connection, no retry, nothing written.
    let name = format!("reset write {tag}");
    let before = proxy.accepted();
    api.expect(503, &user, "POST", "/organizations", Some(json!({"name": name}))).await;
    assert_eq!(proxy.accepted() - before, 1, "a write is not sent twice");
    assert_eq!(orgs_named(&name), 0);
    // A write that reaches the database after the bound: answered 504, committed at most once, never resent.
    let name = format!("late write {tag}");
    let late = Duration::from_millis(4500);
    proxy.set(Mode::Latency(late));
    let before = proxy.accepted();
    let answer = api.call(Some(&user), "POST", "/organizations", Some(json!({"name": name}))).await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    assert_eq!(proxy.accepted() - before, 1, "a write that may have committed is not sent twice");
    tokio::time::sleep(late - answer.elapsed + Duration::from_millis(1000)).await;
    assert!(orgs_named(&name) <= 1);
    proxy.set(Mode::Pass);
    // The client's retry after a 504 sees what happened instead of guessing.
    let list = api.expect(200, &user, "GET", "/organizations", None).await;
    let listed = list.data().as_array().unwrap().iter().filter(|o| o["name"] == name.as_str()).count();
    assert_eq!(listed as i64, orgs_named(&name));
}
