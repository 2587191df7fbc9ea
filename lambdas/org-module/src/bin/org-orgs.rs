//! The `orgs` Lambda of org-module: serves its catalog routes (see `org_module::orgs`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let function = route_registry::modules::org::ORGS;
    module_runtime::serve(function, org_module::orgs::ROUTES, org_module::orgs::run).await
}
