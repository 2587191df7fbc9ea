//! A local emulation of the Lambda Runtime API (2018-06-01) for one function process, on 127.0.0.1, plus two
//! stand-ins the functions call during a cold start: Secrets Manager `GetSecretValue` and a JWKS endpoint.
//!
//! It serves one invocation: the first `invocation/next` gets the event (with `Lambda-Runtime-Aws-Request-Id`,
//! `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`, `Lambda-Runtime-Trace-Id`), later ones
//! are held open, as the real API does between invocations. It records when the response, an invocation error or
//! an init error arrives. For benchmarks only: no concurrency, no streaming.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

/// What the function reported.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response { at: Instant, body: String },
    Error { body: String },
    InitError { body: String },
}

#[derive(Debug, Default)]
struct State {
    served: bool,
    outcome: Option<Outcome>,
}

/// A running emulator; its thread ends with the process.
#[derive(Debug)]
pub struct RuntimeApi {
    pub port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

/// Fixed answers of the stand-ins.
#[derive(Debug, Clone)]
pub struct StandIns {
    /// The `SecretString` returned for any `GetSecretValue`.
    pub secret_string: String,
    /// The body served at `GET /jwks`.
    pub jwks: String,
}

impl RuntimeApi {
    pub fn start(event: String, function_name: String, stand_ins: StandIns) -> Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (shared, event, name, stand_ins) =
                    (shared.clone(), event.clone(), function_name.clone(), stand_ins.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared, &event, &name, &stand_ins);
                });
            }
        });
        Ok(RuntimeApi { port, state })
    }

    /// Waits for the function's answer to the one invocation.
    pub fn wait(&self, timeout: Duration) -> Result<Outcome> {
        let (lock, cvar) = &*self.state;
        let guard = lock.lock().map_err(|_| anyhow::anyhow!("runtime API state poisoned"))?;
        let (guard, result) = cvar
            .wait_timeout_while(guard, timeout, |s| s.outcome.is_none())
            .map_err(|_| anyhow::anyhow!("runtime API state poisoned"))?;
        if result.timed_out() {
            bail!("the function did not answer within {} s", timeout.as_secs());
        }
        guard.outcome.clone().ok_or_else(|| anyhow::anyhow!("no outcome"))
    }
}

fn serve(
    mut stream: TcpStream,
    shared: &(Mutex<State>, Condvar),
    event: &str,
    name: &str,
    stand_ins: &StandIns,
) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0usize;
    let mut target_header = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = lower.strip_prefix("x-amz-target:") {
            target_header = v.trim().to_owned();
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));

    let (lock, cvar) = shared;
    let record = |outcome: Outcome| {
        if let Ok(mut s) = lock.lock() {
            s.outcome.get_or_insert(outcome);
            cvar.notify_all();
        }
    };
    match (method, path) {
        ("GET", "/2018-06-01/runtime/invocation/next") => {
            let first = lock.lock().map(|mut s| !std::mem::replace(&mut s.served, true)).unwrap_or(false);
            if !first {
                // Between invocations the real API holds the request; keep it open until the process ends.
                std::thread::sleep(Duration::from_secs(3600));
                return Ok(());
            }
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() + 30_000;
            let headers = format!(
                "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:{name}\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n"
            );
            respond(&mut stream, 200, &headers, "application/json", event)
        }
        ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/response") => {
            record(Outcome::Response { at: Instant::now(), body });
            respond(&mut stream, 202, "", "application/json", "{\"status\":\"OK\"}")
        }
        ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/error") => {
            record(Outcome::Error { body });
            respond(&mut stream, 202, "", "application/json", "{\"status\":\"OK\"}")
        }
        ("POST", "/2018-06-01/runtime/init/error") => {
            record(Outcome::InitError { body });
            respond(&mut stream, 202, "", "application/json", "{\"status\":\"OK\"}")
        }
        ("POST", "/") if target_header == "secretsmanager.getsecretvalue" => {
            let answer = serde_json::json!({
                "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:career-dev-supabase-credentials-AbCdEf",
                "Name": "career-dev-supabase-credentials",
                "VersionId": "01234567-89ab-cdef-0123-456789abcdef",
                "SecretString": stand_ins.secret_string,
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1.7e9
            });
            respond(&mut stream, 200, "", "application/x-amz-json-1.1", &answer.to_string())
        }
        ("GET", "/jwks") => respond(&mut stream, 200, "", "application/json", &stand_ins.jwks),
        _ => respond(&mut stream, 404, "", "text/plain", "not emulated"),
    }
}

fn respond(stream: &mut TcpStream, status: u16, headers: &str, content_type: &str, body: &str) -> Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status} X\r\n{headers}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    Ok(())
}
