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

/// The `main` of every module binary: loads configuration once per container, builds the PostgREST client outside
/// the handler (its connections live as long as the container), then serves `handler`'s routes.
pub async fn serve<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static Db, lambda_http::Request) -> Fut + Sync,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send,
{
    logging::init();
    let config = config::load_db_config().await?;
    let db: &'static Db = Box::leak(Box::new(Db::new(&config)?));
    let handler = &handler;
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| async move {
        Ok::<_, std::convert::Infallible>(handler(db, req).await)
    }))
    .await
}
