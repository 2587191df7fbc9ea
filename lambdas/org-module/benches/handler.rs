//! Per-request overhead of a handler, data access excluded: turn an HTTP API v2 event into the request
//! `lambda_http` hands a handler, dispatch it through the catalog table (route, caller, auth), validate the
//! `PUT /profiles/me` body into its typed request, render the envelope, and write the request line (EMF), captured
//! in memory instead of stdout.
//!
//! Side by side in the same run: the request line alone, and what the former design added to every request (an
//! HS256 database token signed per caller, which forwarding the caller's own token removed).
//!
//! Run with `cargo bench -p org-module --bench handler`; prints median, p99 and mean per request, wall time on one
//! thread (CPU time equals it here: nothing waits).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark binary reports by printing"
)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use module_runtime::{dispatch, events, metrics, Config, Container, DbConfig, Reply};
use org_module::profiles;
use route_registry::modules::org::types::{Profile, UpdateProfile};
use route_registry::modules::org::PROFILES;
use serde_json::json;

const WARMUP: usize = 2_000;
const RUNS: usize = 20_000;

struct Figures {
    median: Duration,
    p99: Duration,
    mean: Duration,
}

fn measure(mut f: impl FnMut()) -> Figures {
    let mut samples = Vec::with_capacity(RUNS);
    for i in 0..WARMUP + RUNS {
        let start = Instant::now();
        f();
        if i >= WARMUP {
            samples.push(start.elapsed());
        }
        if i % 1_000 == 0 {
            metrics::take_captured();
        }
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    Figures { median: pct(0.5), p99: pct(0.99), mean: samples.iter().sum::<Duration>() / samples.len() as u32 }
}

fn report(what: &str, f: &Figures) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("  {what:<58} median {:>6.1} µs  p99 {:>6.1} µs  mean {:>6.1} µs", us(f.median), us(f.p99), us(f.mean));
}

fn main() {
    metrics::capture();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = module_runtime::http_client::client().unwrap();
    let config = Config {
        db: Some(DbConfig { rest_url: "http://127.0.0.1:1".into(), anon_key: String::new() }),
        okta: None,
        ..Default::default()
    };
    let container = Container::with_config(PROFILES, http, config);
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZUBleGFtcGxlLmNvbSJ9.c2lnbmF0dXJl";
    let authorization = format!("Bearer {token}");
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "phone": "+44 20 7946 0000"}).to_string();
    let event = || {
        let mut e = events::http_request(
            "PUT",
            "/profiles/me",
            &[("authorization", &authorization), ("content-type", "application/json")],
            Some(body.clone()),
        );
        events::authorize(&mut e, &json!({"sub": "alice@example.com", "email": "alice@example.com", "groups": "[]"}));
        e
    };
    let handler = || {
        let req = events::into_request(event());
        let response = rt.block_on(dispatch(profiles::ROUTES, &container, req, |_op, call| async move {
            let body: UpdateProfile = call.body()?;
            let profile = Profile {
                id: uuid::Uuid::nil(),
                first_name: Some(body.first_name.as_str().to_owned()),
                last_name: Some(body.last_name.as_str().to_owned()),
                phone: body.phone.map(|p| p.as_str().to_owned()),
                created_at: "2026-11-29T19:00:00+00:00".into(),
                updated_at: "2026-11-29T19:00:01+00:00".into(),
            };
            Ok(Reply::ok(serde_json::to_value(&profile).map_err(module_runtime::ApiError::internal)?))
        }));
        assert_eq!(response.status(), 200);
    };
    let record = metrics::Record {
        module: "org-module",
        function: "profiles",
        route: "PUT /profiles/me",
        request_id: "req-0123456789abcdef",
        user_email: "alice@example.com",
        status: 200,
        latency_ms: 1.25,
        error: None,
    };
    // The former design: a 60-second HS256 token with the caller's claims, signed for every request.
    let secret =
        jsonwebtoken::EncodingKey::from_secret(b"super-secret-jwt-token-with-at-least-32-characters-long").unwrap();
    let mint = || {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let claims = json!({"sub": "00u-alice", "role": "authenticated", "email": "alice@example.com",
                            "groups": ["g"], "iat": now, "exp": now + 60, "aud": "authenticated"});
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &secret).unwrap()
    };

    println!("handler overhead, {RUNS} requests each after {WARMUP} warm-up, one thread:");
    report("PUT /profiles/me: event → dispatch → validate → envelope", &measure(handler));
    report(
        "  of which the request line (EMF, serialized from fields)",
        &measure(|| {
            std::hint::black_box(metrics::render(&record, "Career/dev", 1_796_000_000_000));
        }),
    );
    report(
        "  the same line built as a JSON tree first (first version)",
        &measure(|| {
            std::hint::black_box(metrics::line(&record, "dev", 1_796_000_000_000).to_string());
        }),
    );
    report(
        "what the former design added: an HS256 token signed per request",
        &measure(|| {
            std::hint::black_box(mint());
        }),
    );
    println!("  (forwarding the caller's own token removed that step from every request)");
}
