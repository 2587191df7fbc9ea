//! `cargo xtask bench load`: `GET /organizations` through the local API and straight to PostgREST, side by side,
//! with wrk.

use std::process::Command;

use anyhow::{bail, Context, Result};
use stacks::Env;

use crate::util::{exec, step};

/// One wrk run's figures.
pub struct WrkResult {
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

pub fn ensure_wrk() -> Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        step("apt-get install wrk", || exec(Command::new("apt-get").args(["install", "-y", "-qq", "wrk"])))?;
    }
    Ok(())
}

pub fn wrk(url: &str, token: &str, connections: u32, seconds: u32) -> Result<WrkResult> {
    let out = Command::new("wrk")
        .args([
            &format!("-t{}", connections.min(2)),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "5s",
            "--latency",
            "-H",
        ])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let ms = |v: &str| -> Option<f64> {
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = num.parse().ok()?;
        Some(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            _ => return None,
        })
    };
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.trim().to_owned()));
    let parsed = (|| {
        Some(WrkResult {
            requests_per_s: field("Requests/sec:")?.parse().ok()?,
            p50_ms: ms(&field("50%")?)?,
            p99_ms: ms(&field("99%")?)?,
            errors: field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0)
                + field("Socket errors:").map(|_| 1).unwrap_or(0),
        })
    })();
    parsed.with_context(|| format!("cannot read wrk's report:\n{text}"))
}

pub fn run() -> Result<()> {
    ensure_wrk()?;
    let local = crate::dev::Local::start(crate::dev::Options {
        port: crate::services::free_port()?,
        release: true,
        quiet: true,
        ..Default::default()
    })?;
    let token = crate::devtoken::mint("alice@example.com", Some("alice@example.com"), &[], Env::Dev, 3600)?;
    let api = step("wrk 15 s: GET /organizations through the local API", || {
        wrk(&format!("{}/organizations", local.url), &token, 8, 15)
    })?;
    // The caller's own token works against PostgREST directly now (it verifies the identity provider's keys).
    let raw = step("wrk 15 s: the same query on PostgREST directly, the same token", || {
        wrk(
            &format!(
                "{}/org?select=id,name,description,created_at,updated_at&order=created_at.asc,id.asc",
                local.rest.url()
            ),
            &token,
            8,
            15,
        )
    })?;
    drop(local);
    println!("GET /organizations, 2 threads, 8 connections, 15 s each, plain HTTP on loopback, one machine:");
    println!("{:<34} {:>10} {:>9} {:>9} {:>7}", "", "req/s", "p50", "p99", "errors");
    for (name, r) in [("local API (authorizer + handler)", &api), ("PostgREST directly", &raw)] {
        println!("{name:<34} {:>10.0} {:>6.2} ms {:>6.2} ms {:>7}", r.requests_per_s, r.p50_ms, r.p99_ms, r.errors);
    }
    println!(
        "overhead of authorizer + handler: throughput x{:.2}, p50 x{:.2}",
        raw.requests_per_s / api.requests_per_s,
        api.p50_ms / raw.p50_ms
    );
    if api.errors + raw.errors > 0 {
        bail!("the load run had errors");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------- rls
