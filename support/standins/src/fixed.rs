//! A server that answers every request with one fixed body (a JWKS endpoint, for instance), on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};

/// A running server; its thread ends with the process.
#[derive(Debug)]
pub struct FixedServer {
    pub addr: SocketAddr,
}

impl FixedServer {
    pub fn start(body: String, content_type: &'static str) -> std::io::Result<FixedServer> {
        FixedServer::with_status(200, body, content_type)
    }

    /// A server answering every request with `status` (e.g. Supabase's gateway refusing a rotated key with 401).
    pub fn with_status(status: u16, body: String, content_type: &'static str) -> std::io::Result<FixedServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_nodelay(true);
                let body = body.clone();
                std::thread::spawn(move || {
                    let Ok(reader) = stream.try_clone() else { return };
                    let mut reader = BufReader::new(reader);
                    let mut stream = stream;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                            line.clear();
                        }
                        let answer = format!(
                            "HTTP/1.1 {status} Fixed\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(FixedServer { addr })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
