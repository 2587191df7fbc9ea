//! A fault-injection proxy on 127.0.0.1 in front of any TCP dependency (PostgREST, the Secrets Manager stand-in,
//! a JWKS endpoint, the Okta stand-in): it passes bytes through, or adds latency, blackholes (accepts and never
//! answers), resets connections, or answers an HTTP 5xx itself. Changing the mode closes the connections it holds,
//! so pooled client connections cannot bypass the new fault.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to each new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Forward, after holding the connection this long.
    Latency(Duration),
    /// Accept, read, never answer.
    Blackhole,
    /// Accept and reset the connection (RST) at once.
    Reset,
    /// Read the request and answer this HTTP status with a small JSON body, then close.
    Status(u16),
}

/// A running proxy; stopped when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accepted: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to `target`.
    pub fn start(target: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (mode, modes) = watch::channel(Mode::Pass);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else { return };
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else { continue };
                        let _ = client.set_nodelay(true);
                        counter.fetch_add(1, Ordering::SeqCst);
                        let mut modes = modes.clone();
                        let mode = *modes.borrow_and_update();
                        tokio::spawn(async move {
                            tokio::select! {
                                () = connection(client, target, mode) => {}
                                _ = modes.changed() => {}
                            }
                        });
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(FaultProxy { addr, mode, accepted, stop: Some(stop), thread: Some(thread) })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, treat connections this way (open ones are closed).
    pub fn set(&self, mode: Mode) {
        let _ = self.mode.send(mode);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn connection(mut client: TcpStream, target: SocketAddr, mode: Mode) {
    match mode {
        Mode::Pass | Mode::Latency(_) => {
            if let Mode::Latency(d) = mode {
                tokio::time::sleep(d).await;
            }
            let Ok(mut upstream) = TcpStream::connect(target).await else { return };
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
        Mode::Blackhole => {
            let mut sink = [0u8; 4096];
            while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
        }
        Mode::Reset => {
            // A zero linger is what makes the close an RST; with zero, the drop does not block.
            #[allow(deprecated, reason = "SO_LINGER blocks only with a non-zero timeout; zero sends a reset at once")]
            let _ = client.set_linger(Some(Duration::ZERO));
            drop(client);
        }
        Mode::Status(status) => {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match client.read(&mut buf).await {
                    Ok(n) if n > 0 => request.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let body = format!("{{\"message\":\"injected {status}\"}}");
            let answer = format!(
                "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(answer.as_bytes()).await;
            let _ = client.shutdown().await;
        }
    }
}
