//! The `profiles` Lambda of org-module: serves its registry routes (see `org_module::profiles`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    org_common::serve(org_module::profiles::handle).await
}
