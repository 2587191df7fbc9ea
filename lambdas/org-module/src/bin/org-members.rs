//! The `members` Lambda of org-module: serves its catalog routes (see `org_module::members`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let function = route_registry::modules::org::MEMBERS;
    module_runtime::serve(function, org_module::members::ROUTES, org_module::members::run).await
}
