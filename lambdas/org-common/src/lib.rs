//! What org-module's Lambdas share (the seed's `org_common` layer, as a crate linked into each binary): the
//! response envelope, errors and their statuses, the caller from the authorizer context, validation types, the
//! PostgREST session that acts as the caller, configuration and secrets, JSON logging, and registry dispatch.
//!
//! It knows no endpoint: handlers live in the module crates. It never uses a service-role key.

pub mod caller;
pub mod config;
pub mod db;
pub mod dispatch;
pub mod error;
pub mod logging;
pub mod response;
pub mod validate;

pub use caller::Caller;
pub use db::{Db, DbConfig, Session};
pub use dispatch::{dispatch, Call};
pub use error::ApiError;
pub use response::Reply;
