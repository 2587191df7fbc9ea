//! Per-request overhead of a handler, data access excluded: parse a real HTTP API v2 event
//! (`lambda_http::request::from_str`), dispatch it through the registry table, read the caller, validate the
//! `PUT /profiles/me` body into its typed request, and render the envelope response.
//!
//! Run with `cargo bench -p org-module --bench handler`; prints median, p99 and mean per request.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark binary reports by printing"
)]

use std::time::{Duration, Instant};

use org_common::{dispatch, Reply};
use org_module::profiles;
use org_module::types::{data, Profile, UpdateProfile};

const WARMUP: usize = 2_000;
const RUNS: usize = 20_000;

fn main() {
    let event =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/put-profile-me.json")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut samples = Vec::with_capacity(RUNS);
    for i in 0..WARMUP + RUNS {
        let start = Instant::now();
        let req = lambda_http::request::from_str(&event).unwrap();
        let response = rt.block_on(dispatch(profiles::ROUTES, req, |_op, call| async move {
            let body: UpdateProfile = call.body()?;
            let profile = Profile {
                id: uuid::Uuid::nil(),
                first_name: Some(body.first_name.as_str().to_owned()),
                last_name: Some(body.last_name.as_str().to_owned()),
                phone: body.phone.map(|p| p.as_str().to_owned()),
                created_at: "2026-11-29T19:00:00+00:00".into(),
                updated_at: "2026-11-29T19:00:01+00:00".into(),
            };
            Ok(Reply::ok(data(&profile)?))
        }));
        assert_eq!(response.status(), 200);
        if i >= WARMUP {
            samples.push(start.elapsed());
        }
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("handler overhead (PUT /profiles/me, parse → dispatch → validate → envelope), {RUNS} requests:");
    println!("  median {:.1} µs  p99 {:.1} µs  mean {:.1} µs  (target < 50 µs)", us(pct(0.5)), us(pct(0.99)), us(mean));
}
