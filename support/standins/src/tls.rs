//! A TLS terminator on 127.0.0.1 in front of a plain stand-in, with a certificate the caller provides (a throwaway
//! CA's, which the process under test is told to trust through `EXTRA_CA_CERTS`), so benchmarks pay the TLS
//! handshakes a function pays in AWS.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::{Certificate, PrivateKey, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A running terminator; stopped when dropped.
#[derive(Debug)]
pub struct TlsProxy {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsProxy {
    /// Serves `target` over TLS on a free port of 127.0.0.1 with the PEM certificate chain and private key given.
    pub fn start(target: SocketAddr, cert_pem: &[u8], key_pem: &[u8]) -> std::io::Result<TlsProxy> {
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let certs: Vec<Certificate> = rustls_pemfile::certs(&mut &cert_pem[..])?.into_iter().map(Certificate).collect();
        let key = rustls_pemfile::pkcs8_private_keys(&mut &key_pem[..])?
            .into_iter()
            .next()
            .map(PrivateKey)
            .ok_or_else(|| invalid("no PKCS#8 private key in the PEM".into()))?;
        let config = ServerConfig::builder()
            .with_safe_defaults()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| invalid(e.to_string()))?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else { return };
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else { continue };
                        // Small TLS records must not wait for delayed ACKs (Nagle): 40 ms a round trip otherwise.
                        let _ = client.set_nodelay(true);
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let Ok(mut tls) = acceptor.accept(client).await else { return };
                            let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                            let _ = upstream.set_nodelay(true);
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                        });
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(TlsProxy { addr, stop: Some(stop), thread: Some(thread) })
    }

    /// `https://localhost:<port>` (the certificate names `localhost`).
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
