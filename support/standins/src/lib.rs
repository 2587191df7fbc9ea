//! Test support: local stand-ins for what the platform talks to, each on 127.0.0.1 in its own thread and runtime,
//! stopped when dropped.
//!
//! - [`okta::OktaStandin`] speaks the Users-API subset of Okta's published Management API and the token endpoint
//!   of its OAuth 2.0 API (client credentials with `private_key_jwt`), and records every exchange, so a test can
//!   hold it and the clients to those documents;
//! - [`sqs::SqsStandin`] speaks SQS's JSON API (queues with redrive, long polling, visibility);
//! - [`kms::KmsStandin`] signs with P-256 keys as KMS's `Sign` does;
//! - [`s3::S3Standin`] is a versioned S3 bucket store that checks pre-signed upload policies and signatures, and
//!   tells a URL about each object created;
//! - [`secrets::SecretsStandin`] answers Secrets Manager's `GetSecretValue`;
//! - [`proxy::FaultProxy`] sits between a client and any TCP dependency to add latency, blackhole, reset
//!   connections or answer 5xx;
//! - [`tls::TlsProxy`] serves any plain stand-in over TLS with a throwaway certificate;
//! - [`codedeploy::CodeDeployStandin`] speaks CodeDeploy's JSON API for Lambda deployments: shifts an alias in steps,
//!   stops on an alarm, rolls back;
//! - [`credly::CredlyStandin`] speaks the part of Credly's web service API cert-module uses (issued badges, paged;
//!   events by id), throttles, fails, hangs and rotates its token on demand, and records every exchange for the
//!   contract check;
//! - [`fixed::FixedServer`] answers every request with one fixed answer;
//! - [`replay::ReplayStandin`] answers from recordings of a real service, so a benchmark measures a function
//!   without waiting for it;
//! - [`runtime_api::RuntimeApi`] emulates the Lambda Runtime API for one function process;
//! - [`http1`] is the HTTP/1.1 reading the hand-written servers share, [`server::Server`] the server the hyper-based
//!   ones share.
//!
//! For tests, benchmarks, the local API and tools; never linked into a Lambda, and it depends on no product crate
//! but what it stands in for.

pub mod codedeploy;
pub mod credly;
pub mod fixed;
pub mod http1;
pub mod kms;
pub mod okta;
pub mod proxy;
pub mod replay;
pub mod runtime_api;
pub mod s3;
pub mod secrets;
pub mod server;
pub mod sqs;
pub mod supabase;
pub mod time;
pub mod tls;
