//! The HTTP trigger: a function that serves API routes gets one API Gateway integration, the permission for this
//! API to invoke it, and one route per catalog route it owns, each behind the Lambda authorizer.

use infra_dsl::aws::{Apigatewayv2Integration, Apigatewayv2Route, LambdaPermission};
use infra_dsl::{DslError, Expr, Stack};
use route_registry::Module;
use serde_json::{json, Value};

use crate::function::DeployedFunction;
use crate::names;
use crate::platform::Gateway;

/// Wires a function's routes; returns them as the module's `api_routes` output lists them.
pub fn add(
    stack: &mut Stack,
    gateway: &Gateway,
    module: &Module,
    d: &mut DeployedFunction,
) -> Result<Vec<Value>, DslError> {
    let f = d.function;
    let local = names::local(&f);
    let integration = stack.add(
        Apigatewayv2Integration::new(&local, gateway.api.id(), "AWS_PROXY")
            .description(format!("{} / {}", f.module, f.name))
            .integration_uri(d.lambda.invoke_arn())
            .integration_method("POST")
            .payload_format_version("2.0")
            .timeout_milliseconds(30_000u32),
    )?;
    let permission = stack.add(
        LambdaPermission::new(
            format!("{local}_api"),
            "lambda:InvokeFunction",
            d.lambda.function_name(),
            "apigateway.amazonaws.com",
        )
        .statement_id("AllowApiGatewayInvoke")
        .source_arn(gateway.api.execution_arn() + "/*/*"),
    )?;
    d.owns(&integration);
    d.owns(&permission);
    let mut out = Vec::new();
    for route in module.routes_of(f) {
        stack.add(
            Apigatewayv2Route::new(names::route_local(route), gateway.api.id(), route.key())
                .target(Expr::lit("integrations/") + integration.id())
                .authorization_type("CUSTOM")
                .authorizer_id(gateway.authorizer.id())
                .operation_name(names::route_local(route)),
        )?;
        out.push(json!({
            "method": route.method.as_str(),
            "path": route.path,
            "integration": Value::from(d.lambda.invoke_arn()),
        }));
    }
    Ok(out)
}
