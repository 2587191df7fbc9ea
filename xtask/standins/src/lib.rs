//! Local stand-ins for what the platform talks to, each on 127.0.0.1 in its own thread and runtime, stopped when
//! dropped: [`okta::OktaStandin`] speaks the Users-API subset of Okta's published Management API (and records every
//! exchange, so a test can hold it and the client to that document), [`proxy::FaultProxy`] sits between a client
//! and any TCP dependency to add latency, blackhole, reset connections or answer 5xx, and [`tls::TlsProxy`] serves
//! any plain stand-in over TLS with a throwaway certificate; [`replay::ReplayStandin`] answers from recordings of a
//! real service, so a benchmark measures a function without waiting for it.
//!
//! For tests, the local API and tools; never linked into a Lambda.

pub mod fixed;
pub mod http1;
pub mod okta;
pub mod proxy;
pub mod replay;
pub mod secrets;
pub mod tls;
