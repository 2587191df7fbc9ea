//! A local emulation of the Lambda Runtime API (2018-06-01) for one function process, on 127.0.0.1, plain HTTP as
//! in Lambda (the runtime API is on the execution environment's loopback there too).
//!
//! It serves the event twice: a cold invocation (the first `invocation/next`) and a warm one (the next), each with
//! `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and
//! `Lambda-Runtime-Trace-Id`; later `next` calls are held open, as the real API does between invocations. It records
//! when each response (or an invocation or init error) arrives, and when the warm event was handed out. For
//! benchmarks only: no concurrency, no streaming.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http1::{read_body, read_head};
use anyhow::{bail, Result};

/// What the function reported for one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response { at: Instant, body: String },
    Error { body: String },
    InitError { body: String },
}

#[derive(Debug, Default)]
struct State {
    served: usize,
    warm_sent_at: Option<Instant>,
    outcomes: Vec<Outcome>,
}

/// A running emulator; its threads end with the process.
#[derive(Debug)]
pub struct RuntimeApi {
    pub port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl RuntimeApi {
    pub fn start(event: String, function_name: String) -> Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_nodelay(true);
                let (shared, event, name) = (shared.clone(), event.clone(), function_name.clone());
                std::thread::spawn(move || {
                    let Ok(reader) = stream.try_clone() else { return };
                    let mut reader = BufReader::new(reader);
                    let mut stream = stream;
                    // Keep-alive, as the real API (an HTTP/1.1 server) does: one connection serves the client's
                    // `next` and response posts in turn, so no benchmark pays connects the function would not.
                    while let Ok(true) = serve(&mut reader, &mut stream, &shared, &event, &name) {}
                });
            }
        });
        Ok(RuntimeApi { port, state })
    }

    /// Waits for the outcome of invocation `n` (0: cold, 1: warm).
    pub fn wait(&self, n: usize, timeout: Duration) -> Result<Outcome> {
        let (lock, cvar) = &*self.state;
        let guard = lock.lock().map_err(|_| anyhow::anyhow!("runtime API state poisoned"))?;
        let (guard, result) = cvar
            .wait_timeout_while(guard, timeout, |s| {
                s.outcomes.len() <= n && !s.outcomes.iter().any(|o| !matches!(o, Outcome::Response { .. }))
            })
            .map_err(|_| anyhow::anyhow!("runtime API state poisoned"))?;
        if result.timed_out() {
            bail!("the function did not answer invocation {n} within {} s", timeout.as_secs());
        }
        if let Some(failure) = guard.outcomes.iter().find(|o| !matches!(o, Outcome::Response { .. })) {
            return Ok(failure.clone());
        }
        guard.outcomes.get(n).cloned().ok_or_else(|| anyhow::anyhow!("no outcome"))
    }

    /// When the warm event was handed to the function.
    pub fn warm_sent_at(&self) -> Option<Instant> {
        self.state.0.lock().ok().and_then(|s| s.warm_sent_at)
    }
}

/// Serves one request of a connection; `false` when the client closed it.
fn serve(
    reader: &mut BufReader<TcpStream>,
    stream: &mut TcpStream,
    shared: &(Mutex<State>, Condvar),
    event: &str,
    name: &str,
) -> Result<bool> {
    let Some((request_line, headers)) = read_head(reader)? else { return Ok(false) };
    let body = read_body(reader, &headers)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));

    let (lock, cvar) = shared;
    let record = |outcome: Outcome| {
        if let Ok(mut s) = lock.lock() {
            s.outcomes.push(outcome);
            cvar.notify_all();
        }
    };
    match (method, path) {
        ("GET", "/2018-06-01/runtime/invocation/next") => {
            let n = lock
                .lock()
                .map(|mut s| {
                    s.served += 1;
                    if s.served == 2 {
                        s.warm_sent_at = Some(Instant::now());
                    }
                    s.served
                })
                .unwrap_or(usize::MAX);
            if n > 2 {
                // Between invocations the real API holds the request; keep it open until the process ends.
                std::thread::sleep(Duration::from_secs(3600));
                return Ok(false);
            }
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() + 30_000;
            let headers = format!(
                "Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3f{n:02}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:{name}\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n"
            );
            respond(stream, 200, &headers, "application/json", event)
        }
        ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/response") => {
            record(Outcome::Response { at: Instant::now(), body });
            respond(stream, 202, "", "application/json", "{\"status\":\"OK\"}")
        }
        ("POST", p) if p.starts_with("/2018-06-01/runtime/invocation/") && p.ends_with("/error") => {
            record(Outcome::Error { body });
            respond(stream, 202, "", "application/json", "{\"status\":\"OK\"}")
        }
        ("POST", "/2018-06-01/runtime/init/error") => {
            record(Outcome::InitError { body });
            respond(stream, 202, "", "application/json", "{\"status\":\"OK\"}")
        }
        _ => respond(stream, 404, "", "text/plain", "not emulated"),
    }
}

fn respond(stream: &mut TcpStream, status: u16, headers: &str, content_type: &str, body: &str) -> Result<bool> {
    write!(
        stream,
        "HTTP/1.1 {status} X\r\n{headers}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one answer's status line, headers and body from a kept-alive connection.
    fn answer(reader: &mut BufReader<TcpStream>) -> (String, Vec<(String, String)>, String) {
        let (status, headers) = read_head(reader).unwrap().unwrap();
        let body = read_body(reader, &headers).unwrap();
        (status, headers, String::from_utf8(body).unwrap())
    }

    #[test]
    fn one_kept_alive_connection_serves_next_and_the_response_as_the_real_api_does() {
        let api = RuntimeApi::start("{\"n\":1}".into(), "f".into()).unwrap();
        let mut stream = TcpStream::connect(("127.0.0.1", api.port)).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        write!(stream, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        let (status, headers, event) = answer(&mut reader);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert!(crate::http1::header(&headers, "lambda-runtime-aws-request-id").is_some(), "{headers:?}");
        assert_eq!(crate::http1::header(&headers, "connection"), None, "{headers:?}");
        assert_eq!(event, "{\"n\":1}");
        let body = "{\"ok\":true}";
        write!(
            stream,
            "POST /2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3f01/response HTTP/1.1\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        assert!(answer(&mut reader).0.starts_with("HTTP/1.1 202"));
        match api.wait(0, Duration::from_secs(5)).unwrap() {
            Outcome::Response { body: got, .. } => assert_eq!(got, body),
            other => panic!("{other:?}"),
        }
    }
}
