//! A recording stand-in on 127.0.0.1 for an HTTP dependency (PostgREST, in the cold-start benchmark): the first time
//! it sees a request (method, path and query, `Authorization`, body) it forwards it to the real service and keeps
//! the answer; every later identical request is answered from that recording at once, on a kept-alive connection.
//! So a benchmark's measured runs get the real service's answers without waiting for it, and
//! [`ReplayStandin::forwarded`] tells whether any measured request missed the recording.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::http1::{header, read_body, read_head, Headers};

/// One recorded answer: status, the headers worth replaying, body.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
}

type Key = (String, String, String, Vec<u8>);

/// A running stand-in; its threads end with the process.
#[derive(Debug)]
pub struct ReplayStandin {
    pub addr: SocketAddr,
    forwarded: Arc<AtomicUsize>,
}

impl ReplayStandin {
    /// A stand-in in front of the plain-HTTP service at `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<ReplayStandin> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let recorded: Arc<Mutex<HashMap<Key, Answer>>> = Arc::default();
        let forwarded = Arc::new(AtomicUsize::new(0));
        let counter = forwarded.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_nodelay(true);
                let (recorded, counter) = (recorded.clone(), counter.clone());
                std::thread::spawn(move || {
                    let Ok(reader) = stream.try_clone() else { return };
                    let mut reader = BufReader::new(reader);
                    let mut stream = stream;
                    while let Ok(true) = serve(&mut reader, &mut stream, upstream, &recorded, &counter) {}
                });
            }
        });
        Ok(ReplayStandin { addr, forwarded })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests forwarded to the real service so far (each one a recording made).
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }
}

/// Serves one request of a connection; `false` when the client closed it.
fn serve(
    reader: &mut BufReader<TcpStream>,
    stream: &mut TcpStream,
    upstream: SocketAddr,
    recorded: &Mutex<HashMap<Key, Answer>>,
    forwarded: &AtomicUsize,
) -> std::io::Result<bool> {
    let Some((request_line, headers)) = read_head(reader)? else { return Ok(false) };
    let body = read_body(reader, &headers)?;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let key = (method, target, header(&headers, "authorization").unwrap_or("").to_owned(), body);
    let known = recorded.lock().ok().and_then(|r| r.get(&key).cloned());
    let answer = match known {
        Some(answer) => answer,
        None => {
            forwarded.fetch_add(1, Ordering::SeqCst);
            let answer = forward(upstream, &key, &headers)?;
            if let Ok(mut r) = recorded.lock() {
                r.insert(key, answer.clone());
            }
            answer
        }
    };
    let mut out = format!("HTTP/1.1 {} Replayed\r\n", answer.status);
    for (name, value) in &answer.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", answer.body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer.body);
    stream.write_all(&bytes)?;
    Ok(true)
}

/// Sends the request to the real service on a connection of its own and reads the whole answer.
fn forward(upstream: SocketAddr, key: &Key, headers: &[(String, String)]) -> std::io::Result<Answer> {
    let (method, target, _, body) = key;
    let mut request = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in headers {
        if !matches!(name.as_str(), "connection" | "content-length" | "transfer-encoding" | "keep-alive") {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    let mut upstream = TcpStream::connect(upstream)?;
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    upstream.write_all(&bytes)?;
    let mut reader = BufReader::new(upstream);
    let (status_line, headers) = read_head(&mut reader)?.ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the service closed without answering")
    })?;
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(502);
    // A HEAD answer announces a length but carries no body.
    let body = if method == "HEAD" { Vec::new() } else { read_body(&mut reader, &headers)? };
    let headers = headers
        .into_iter()
        .filter(|(n, _)| {
            !matches!(n.as_str(), "connection" | "content-length" | "transfer-encoding" | "keep-alive" | "date")
        })
        .collect();
    Ok(Answer { status, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service that answers each request with a counter, so a replay is told from a forward.
    fn counting_service() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut n = 0;
            for stream in listener.incoming().flatten() {
                n += 1;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (_, headers) = read_head(&mut reader).unwrap().unwrap();
                let _ = read_body(&mut reader, &headers).unwrap();
                let mut stream = stream;
                // Chunked, as a streaming server answers.
                let body = format!("[{{\"n\":{n}}}]");
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                    body.len()
                )
                .unwrap();
            }
        });
        addr
    }

    fn get(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, target: &str) -> (u16, String) {
        write!(stream, "GET {target} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer a\r\n\r\n").unwrap();
        let (status, headers) = read_head(reader).unwrap().unwrap();
        let body = read_body(reader, &headers).unwrap();
        (status.split_whitespace().nth(1).unwrap().parse().unwrap(), String::from_utf8(body).unwrap())
    }

    #[test]
    fn the_first_request_is_forwarded_and_identical_ones_are_replayed_on_one_connection() {
        let replay = ReplayStandin::start(counting_service()).unwrap();
        let mut stream = TcpStream::connect(replay.addr).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert_eq!(get(&mut stream, &mut reader, "/org?select=*"), (200, r#"[{"n":1}]"#.to_owned()));
        assert_eq!(get(&mut stream, &mut reader, "/org?select=*"), (200, r#"[{"n":1}]"#.to_owned()));
        assert_eq!(replay.forwarded(), 1);
        assert_eq!(get(&mut stream, &mut reader, "/org?select=id"), (200, r#"[{"n":2}]"#.to_owned()));
        assert_eq!(replay.forwarded(), 2);
    }
}
