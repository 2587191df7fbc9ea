//! `cargo xtask bench synth`: times whole-process synth of all four environments in release, and its peak memory.
//!
//! Each run is a fresh process (`xtask synth --all --out <tmp>`), so the figure includes process start, argument
//! parsing, building four stacks, rendering and writing four files: what a user waits for.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util::{cargo, exec, step};
use crate::workspace_root;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to benchmark.
    #[arg(value_enum, default_value = "synth")]
    what: What,
    /// Number of measured runs (synth: after 3 warm-ups; cold-start: at least 20 per function).
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// cold-start: build with AWS-LC's CPU-jitter entropy source enabled (the default build disables it).
    #[arg(long)]
    with_jitter_entropy: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum What {
    /// Synth of all four environments, whole process.
    Synth,
    /// Cold start of every Lambda (host release build) against a local Runtime API: start → first response.
    ColdStart,
    /// Load on `GET /organizations` through the local API (authorizer + handler) and the same query on PostgREST
    /// directly, with wrk for 15 s each on loopback.
    Load,
}

pub fn run(args: &Args) -> Result<()> {
    match args.what {
        What::Synth => synth(args.runs),
        What::ColdStart => cold_start(args.runs.max(20), args.with_jitter_entropy),
        What::Load => load(),
    }
}

fn synth(runs: usize) -> Result<()> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let root = workspace_root();
    step("cargo build --release -p xtask", || {
        exec(cargo().current_dir(&root).args(["build", "--quiet", "--release", "-p", "xtask"]))
    })?;
    let exe = root.join("target/release/xtask");
    let out = root.join("target/bench-synth");
    let mut walls = Vec::with_capacity(runs);
    let mut peak_kib = 0u64;
    for i in 0..runs + 3 {
        let start = Instant::now();
        let output = Command::new(&exe)
            .args(["synth", "--all", "--report-peak-rss", "--out"])
            .arg(&out)
            .output()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        let wall = start.elapsed();
        if !output.status.success() {
            bail!("synth failed during the benchmark: {}", String::from_utf8_lossy(&output.stderr));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let kib: u64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("peak_rss_kib="))
            .and_then(|v| v.parse().ok())
            .context("synth did not report its peak RSS")?;
        if i >= 3 {
            walls.push(wall);
            peak_kib = peak_kib.max(kib);
        }
    }
    walls.sort();
    let pct = |p: f64| walls[((walls.len() - 1) as f64 * p).round() as usize];
    println!("synth --all (4 environments, whole process, release), {runs} runs:");
    println!("  wall   median {}  p95 {}  max {}", ms(pct(0.5)), ms(pct(0.95)), ms(pct(1.0)));
    println!("  memory peak RSS {:.1} MiB (max over runs)", peak_kib as f64 / 1024.0);
    println!("  targets: < 40 ms wall, < 20 MiB peak  →  {}", verdict(pct(0.5), peak_kib));
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn verdict(median: Duration, peak_kib: u64) -> &'static str {
    if median < Duration::from_millis(40) && peak_kib < 20 * 1024 {
        "met"
    } else {
        "NOT met"
    }
}

/// One function's cold starts.
struct ColdStarts {
    binary: &'static str,
    starts: Vec<Duration>,
    peak_kib: u64,
}

fn cold_start(runs: usize, with_jitter: bool) -> Result<()> {
    use crate::runtime_api::{Outcome, RuntimeApi, StandIns};
    let root = workspace_root();
    step("cargo build --release (host) of the Lambda binaries", || {
        let mut cmd = cargo();
        cmd.current_dir(&root).args(["build", "--quiet", "--release", "-p", "org-module", "-p", "platform-authorizer"]);
        if !with_jitter {
            cmd.env("AWS_LC_SYS_NO_JITTER_ENTROPY", "1");
        }
        exec(&mut cmd)
    })?;
    let services = crate::services::Stack::start()?;
    let stand_ins = StandIns {
        secret_string: serde_json::json!({
            "rest_url": services.rest.url(),
            "anon_key": "",
            "jwt_secret": services.rest.jwt_secret,
        })
        .to_string(),
        jwks: std::fs::read_to_string(root.join("xtask/dev-issuer/jwks.json"))?,
    };
    let token = crate::devtoken::mint("00u-bench", Some("bench@example.com"), &[], 600)?;
    let ghost = "6f1c2f7e-3c55-4a53-9d39-5d2b7c1d2e11";
    let cases: Vec<(&'static str, String)> = vec![
        ("org-identities-management", http_event("GET", &format!("/identities/{ghost}"))?),
        ("org-profiles", http_event("GET", "/profiles/me")?),
        ("org-orgs", http_event("GET", "/organizations")?),
        ("org-members", http_event("GET", &format!("/organizations/{ghost}/members"))?),
        (route_registry::AUTHORIZER.binary, authorizer_event(&token)),
    ];
    let mut results = Vec::new();
    for (binary, event) in cases {
        let exe = root.join("target/release").join(binary);
        let mut result = ColdStarts { binary, starts: Vec::with_capacity(runs), peak_kib: 0 };
        for _ in 0..runs {
            let api = RuntimeApi::start(event.clone(), binary.to_owned(), stand_ins.clone())?;
            let endpoint = format!("http://127.0.0.1:{}", api.port);
            let mut cmd = Command::new(&exe);
            cmd.env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port))
                .env("AWS_LAMBDA_FUNCTION_NAME", format!("dev-{binary}"))
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/dev-{binary}"))
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/29/[$LATEST]0123456789abcdef")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "ASIABENCHMARKONLY")
                .env("AWS_SECRET_ACCESS_KEY", "benchmark-only")
                .env("AWS_SESSION_TOKEN", "benchmark-only")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint)
                .env(
                    "SUPABASE_SECRET_ARN",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:career-dev-supabase-credentials-AbCdEf",
                )
                .env("OKTA_ISSUER", stacks::dev_issuer::ISSUER)
                .env("OKTA_AUDIENCE", stacks::dev_issuer::AUDIENCE)
                .env("OKTA_JWKS_URL", format!("{endpoint}/jwks"))
                .env("LOG_LEVEL", "ERROR")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let start = Instant::now();
            let mut child = cmd.spawn().with_context(|| format!("cannot start {}", exe.display()))?;
            let outcome = api.wait(Duration::from_secs(30));
            let peak = peak_rss_kib(child.id()).unwrap_or(0);
            let _ = child.kill();
            let _ = child.wait();
            match outcome? {
                Outcome::Response { at, body } => {
                    check_answer(binary, &body)?;
                    result.starts.push(at.duration_since(start));
                    result.peak_kib = result.peak_kib.max(peak);
                }
                Outcome::Error { body } => bail!("{binary} reported an invocation error: {body}"),
                Outcome::InitError { body } => bail!("{binary} failed to initialize: {body}"),
            }
        }
        result.starts.sort();
        results.push(result);
    }
    drop(services);
    let entropy = if with_jitter { "jitter entropy ON" } else { "jitter entropy off" };
    println!(
        "cold start, host release build ({entropy}), {runs} starts per function: process start → first response posted"
    );
    println!("{:<28} {:>10} {:>10} {:>12} {:>10}", "function", "median", "p95", "peak RSS", "arm64 zip");
    for r in &results {
        let pct = |p: f64| r.starts[((r.starts.len() - 1) as f64 * p).round() as usize];
        let zip = std::fs::metadata(crate::build::zip_path(r.binary))
            .map(|m| format!("{:.2} MiB", m.len() as f64 / 1048576.0))
            .unwrap_or_else(|_| "not built".into());
        println!(
            "{:<28} {:>10} {:>10} {:>8.1} MiB {:>10}",
            r.binary,
            ms(pct(0.5)),
            ms(pct(0.95)),
            r.peak_kib as f64 / 1024.0,
            zip
        );
    }
    println!("targets: median < 20 ms, peak RSS < 15 MiB, zip ≤ 4 MiB");
    Ok(())
}

/// The answer must be a real handler answer, not a runtime failure.
fn check_answer(binary: &str, body: &str) -> Result<()> {
    let v: serde_json::Value =
        serde_json::from_str(body).with_context(|| format!("{binary} answered non-JSON: {body}"))?;
    let ok = if binary == route_registry::AUTHORIZER.binary {
        v["isAuthorized"] == true
    } else {
        v["statusCode"].as_u64().is_some_and(|s| s == 200 || s == 404)
            && v["body"].as_str().is_some_and(|b| b.contains("\"success\""))
    };
    if !ok {
        bail!("{binary} answered unexpectedly: {body}");
    }
    Ok(())
}

/// An HTTP API v2 event for `method path` from the handlers' fixture, with a caller in the authorizer context.
fn http_event(method: &str, path: &str) -> Result<String> {
    let fixture = workspace_root().join("lambdas/org-module/tests/data/http-api-v2.json");
    let mut e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&fixture)?)?;
    let key = route_registry::all_routes()
        .find(|r| r.method.as_str() == method && r.match_path(path).is_some())
        .map(|r| r.key())
        .context("no registry route for the benchmark event")?;
    e["routeKey"] = key.clone().into();
    e["rawPath"] = path.into();
    e["requestContext"]["routeKey"] = key.into();
    e["requestContext"]["http"]["method"] = method.into();
    e["requestContext"]["http"]["path"] = path.into();
    Ok(e.to_string())
}

/// An authorizer event (payload 2.0) carrying `token`.
fn authorizer_event(token: &str) -> String {
    serde_json::json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/$default/GET/profiles/me",
        "identitySource": [format!("Bearer {token}")],
        "routeKey": "GET /profiles/me",
        "rawPath": "/profiles/me",
        "rawQueryString": "",
        "headers": { "authorization": format!("Bearer {token}") },
        "requestContext": {
            "accountId": "123456789012", "apiId": "a1b2c3d4e5", "requestId": "bench",
            "http": { "method": "GET", "path": "/profiles/me", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" },
            "routeKey": "GET /profiles/me", "stage": "$default", "time": "29/Nov/2026:19:00:00 +0000", "timeEpoch": 1795978800000u64
        }
    })
    .to_string()
}

/// A process's peak resident set size (VmHWM), in KiB; `std::process::id()` for this one.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// One wrk run's figures.
struct WrkResult {
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn wrk(url: &str, token: &str) -> Result<WrkResult> {
    let out = Command::new("wrk")
        .args(["-t2", "-c8", "-d15s", "--timeout", "5s", "--latency", "-H"])
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

fn load() -> Result<()> {
    let wrk_installed = Command::new("wrk").arg("--version").output().is_ok();
    if !wrk_installed {
        step("apt-get install wrk", || exec(Command::new("apt-get").args(["install", "-y", "-qq", "wrk"])))?;
    }
    let local = crate::dev::Local::start(crate::services::free_port()?, None, true)?;
    let token = crate::devtoken::mint("00u-alice", Some("alice@example.com"), &[], 3600)?;
    // The same caller straight to PostgREST: the token the handler would mint, with a longer life.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let rest_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "00u-alice", "role": "authenticated", "aud": "authenticated", "groups": [], "iat": now, "exp": now + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(local.rest.jwt_secret.as_bytes())?,
    )?;
    let api = step("wrk 15 s: GET /organizations through the local API", || {
        wrk(&format!("{}/organizations", local.url), &token)
    })?;
    let raw = step("wrk 15 s: the same query on PostgREST directly", || {
        wrk(&format!("{}/org?select=*&order=created_at.asc,id.asc", local.rest.url()), &rest_token)
    })?;
    drop(local);
    println!("GET /organizations, 2 threads, 8 connections, 15 s each, loopback:");
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
