//! The HTTP server the hyper-based stand-ins share: a free port of 127.0.0.1, one runtime thread, a connection task
//! per client (no Nagle delay), each request answered by the stand-in's function; stopped and joined when dropped.

use std::future::Future;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

/// A running server.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    handle: tokio::runtime::Handle,
}

impl Server {
    /// Serves every request with `answer` on a free port of 127.0.0.1.
    pub fn start<F, Fut>(answer: F) -> std::io::Result<Server>
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        Server::serve(Server::bind()?, answer)
    }

    /// A free port of 127.0.0.1, for a stand-in that must know its URL before it serves (answers that name it).
    pub fn bind() -> std::io::Result<std::net::TcpListener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    }

    /// Serves every request on `listener` (from [`Server::bind`]) with `answer`.
    pub fn serve<F, Fut>(listener: std::net::TcpListener, answer: F) -> std::io::Result<Server>
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let handle = runtime.handle().clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let _ = stream.set_nodelay(true);
                        let answer = answer.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let answer = answer.clone();
                                async move { Ok::<_, std::convert::Infallible>(answer(req).await) }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(Server { addr, stop: Some(stop), thread: Some(thread), handle })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's runtime, for work a stand-in starts outside a request.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
