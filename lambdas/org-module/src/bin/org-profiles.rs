//! The `profiles` Lambda of org-module: serves its catalog routes (see `org_module::profiles`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let function = route_registry::modules::org::PROFILES;
    module_runtime::serve(function, org_module::profiles::ROUTES, org_module::profiles::run).await
}
