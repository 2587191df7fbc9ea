//! The `identities-management` Lambda of org-module: serves its catalog routes (see `org_module::identities`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let function = route_registry::modules::org::IDENTITIES_MANAGEMENT;
    module_runtime::serve(function, org_module::identities::ROUTES, org_module::identities::run).await
}
