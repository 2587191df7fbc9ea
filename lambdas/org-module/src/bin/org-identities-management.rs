//! The `identities-management` Lambda of org-module: loads configuration once per container, then serves its registry routes.

use lambda_http::{service_fn, Error, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    org_common::logging::init();
    // Built once, outside the handler: the PostgREST client and its connections live as long as the container.
    let config = org_common::config::load_db_config().await?;
    let db: &'static org_common::Db = Box::leak(Box::new(org_common::Db::new(&config)?));
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(org_module::identities::handle(db, req).await)
    }))
    .await
}
