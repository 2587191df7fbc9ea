//! `cargo xtask bench faults`: each fault a proxy between the local API and PostgREST can inject, with its status,
//! answer time and recovery time; then (also a step of the test command) a bounded load through the local API while
//! the database API is paused and resumed. Four clients request `GET /organizations` for 24 s; PostgREST is stopped
//! (SIGSTOP: it accepts connections and never answers, the worst kind of outage) from second 4 to second 14. Every
//! request must be answered within the function's deadline (its timeout less the answer margin), with 504 while
//! PostgREST hangs and 200 again after it resumes; the figures are the answer times per phase and the recovery
//! time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use stacks::Env;

use crate::bench::{ms, Spread};
use crate::util::step;

/// One request: when it started (since the run began), its status (0 when the client gave up), how long it took.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    status: u16,
    took: Duration,
}

/// A plain HTTP/1.1 GET with a client-side bound (the load generator's own; the server's bounds are under test).
fn get(port: u16, path: &str, token: &str, bound: Duration) -> (u16, Duration) {
    let start = Instant::now();
    let status = (|| -> Option<u16> {
        let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), bound).ok()?;
        s.set_read_timeout(Some(bound)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).ok()?;
        let status = std::str::from_utf8(&head[9..12]).ok()?.parse().ok()?;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        Some(status)
    })();
    (status.unwrap_or(0), start.elapsed())
}

/// Per fault: a few requests through the local API with the fault on, then the first request after it is gone.
pub fn run_matrix() -> Result<()> {
    use standins::proxy::Mode;
    let local = crate::dev::Local::start(crate::dev::Options {
        port: crate::services::free_port()?,
        quiet: true,
        rest_fault_proxy: true,
        ..Default::default()
    })?;
    let proxy = local.proxy.as_ref().context("the local API was started without its fault proxy")?;
    let port: u16 =
        local.url.rsplit(':').next().and_then(|p| p.parse().ok()).context("no port in the local API's URL")?;
    let token = crate::devtoken::mint("alice@example.com", Some("alice@example.com"), &[], Env::Dev, 3600)?;
    let bound = Duration::from_secs(30);
    let modes: [(&str, Mode); 8] = [
        ("none (baseline)", Mode::Pass),
        ("connection reset", Mode::Reset),
        ("PostgREST answers 500", Mode::Status(500)),
        ("gateway answers 502", Mode::Status(502)),
        ("gateway answers 503", Mode::Status(503)),
        ("gateway answers 504", Mode::Status(504)),
        ("blackhole (accepts, never answers)", Mode::Blackhole),
        ("6 s of latency", Mode::Latency(Duration::from_secs(6))),
    ];
    println!(
        "GET /organizations through the local API (debug build), a fault proxy before PostgREST, 5 requests each:"
    );
    println!("{:<36} {:>8} {:>26} {:>16}", "fault", "status", "answer time", "recovery");
    for (name, mode) in modes {
        proxy.set(mode);
        let mut statuses = std::collections::BTreeSet::new();
        let mut took = Vec::new();
        for _ in 0..5 {
            let (status, t) = get(port, "/organizations", &token, bound);
            statuses.insert(status);
            took.push(t);
        }
        proxy.set(Mode::Pass);
        let recovery = Instant::now();
        let mut first_ok = None;
        while recovery.elapsed() < Duration::from_secs(10) {
            if get(port, "/organizations", &token, bound).0 == 200 {
                first_ok = Some(recovery.elapsed());
                break;
            }
        }
        let statuses: Vec<String> = statuses.iter().map(u16::to_string).collect();
        println!(
            "{name:<36} {:>8} {:>26} {:>16}",
            statuses.join("/"),
            Spread::new(took).show(),
            first_ok.map_or("none in 10 s".into(), ms)
        );
        if first_ok.is_none() {
            bail!("no recovery within 10 s after the fault `{name}` was removed");
        }
    }
    drop(local);
    Ok(())
}

pub fn run_load() -> Result<()> {
    let local = crate::dev::Local::start(crate::dev::Options {
        port: crate::services::free_port()?,
        quiet: true,
        ..Default::default()
    })?;
    let port: u16 =
        local.url.rsplit(':').next().and_then(|p| p.parse().ok()).context("no port in the local API's URL")?;
    let token = crate::devtoken::mint("alice@example.com", Some("alice@example.com"), &[], Env::Dev, 3600)?;
    let deadline = Duration::from_secs(u64::from(route_registry::modules::org::LIST_ORGS.function.timeout_s))
        .saturating_sub(Duration::from_secs(2));
    let (pause_at, resume_at, end) = (Duration::from_secs(4), Duration::from_secs(14), Duration::from_secs(24));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let run_start = Instant::now();
    let pid = local.rest.pid();
    let result = step("4 clients for 24 s; PostgREST paused from 4 s to 14 s", || {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (samples, token) = (samples.clone(), token.clone());
                std::thread::spawn(move || {
                    while run_start.elapsed() < end {
                        let at = run_start.elapsed();
                        let (status, took) = get(port, "/organizations", &token, Duration::from_secs(30));
                        if let Ok(mut s) = samples.lock() {
                            s.push(Sample { at, status, took });
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                })
            })
            .collect();
        std::thread::sleep(pause_at);
        let signal = |sig: &str| Command::new("kill").args([sig, &pid.to_string()]).status();
        signal("-STOP").context("cannot pause PostgREST")?;
        std::thread::sleep(resume_at - pause_at);
        signal("-CONT").context("cannot resume PostgREST")?;
        for w in workers {
            let _ = w.join();
        }
        Ok(())
    });
    drop(local);
    result?;
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    let phase = |from: Duration, to: Duration| -> Vec<Sample> {
        samples.iter().filter(|s| s.at >= from && s.at < to).copied().collect()
    };
    // A request started just before the pause may straddle it; the phases are by start time.
    let phases = [
        ("before the pause", Duration::ZERO, pause_at),
        ("PostgREST paused", pause_at, resume_at),
        ("after resuming", resume_at, end),
    ];
    println!("GET /organizations through the local API (debug build), 4 clients, loopback; statuses and answer times:");
    let mut problems = Vec::new();
    for (name, from, to) in phases {
        let xs = phase(from, to);
        let mut statuses: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
        for s in &xs {
            *statuses.entry(s.status).or_default() += 1;
        }
        let took = Spread::new(xs.iter().map(|s| s.took).collect());
        println!(
            "  {name:<18} {:>4} requests {statuses:?}  answered in {}, max {}",
            xs.len(),
            took.show(),
            ms(took.pct(1.0))
        );
        if xs.iter().any(|s| s.status == 0 || s.took > deadline) {
            problems.push(format!("{name}: a request was not answered within {} s", deadline.as_secs()));
        }
    }
    // Requests wholly inside the pause (started a second after it, answered before the resume; one straddling the
    // resume may rightly succeed) must be refused as the database's failure.
    let paused: Vec<Sample> =
        phase(pause_at + Duration::from_secs(1), resume_at).into_iter().filter(|s| s.at + s.took < resume_at).collect();
    if paused.is_empty() {
        problems.push("no request ran wholly inside the pause".into());
    }
    if paused.iter().any(|s| s.status != 504 && s.status != 503) {
        problems.push("while PostgREST hung, some answer was neither 504 nor 503".into());
    }
    let recovered = samples.iter().filter(|s| s.at >= resume_at && s.status == 200).map(|s| s.at + s.took).min();
    let last_failure = samples.iter().filter(|s| s.at >= resume_at && s.status != 200).map(|s| s.at + s.took).max();
    match recovered {
        Some(first_ok) => println!(
            "  recovery: first 200 {} after resuming; last failure {}",
            ms(first_ok - resume_at),
            last_failure.map_or("none".into(), |t| format!("{} after resuming", ms(t.saturating_sub(resume_at))))
        ),
        None => problems.push("no request succeeded after PostgREST resumed".into()),
    }
    let tail = phase(resume_at + Duration::from_secs(5), end);
    if tail.is_empty() || tail.iter().any(|s| s.status != 200) {
        problems.push("not fully recovered 5 s after resuming".into());
    }
    if !problems.is_empty() {
        bail!("the fault run failed: {}", problems.join("; "));
    }
    Ok(())
}
