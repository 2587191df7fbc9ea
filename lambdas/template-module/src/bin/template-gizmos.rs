//! The `template-gizmos` Lambda of template-module: serves its catalog routes.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let function = route_registry::modules::template::GIZMOS;
    module_runtime::serve(function, template_module::ROUTES, template_module::run).await
}
