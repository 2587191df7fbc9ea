//! The `identities-management` Lambda of org-module: serves its registry routes (see `org_module::identities`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    org_common::serve(org_module::identities::handle).await
}
