//! The HTTP trigger: a function that serves API routes gets one API Gateway integration, the permission for this
//! API to invoke it, and one route per catalog route it owns, each behind the Lambda authorizer; its alarm is the
//! 5xx rate of what its callers saw. Its events are the module's API requests, spread over its HTTP functions.

use infra_dsl::aws::{Apigatewayv2Integration, Apigatewayv2Route, LambdaPermission};
use infra_dsl::{Expr, Stack};
use route_registry::Function;
use serde_json::{json, Value};

use super::{CostAt, Events, Kind, WireAt, Wired};
use crate::findings::Findings;
use crate::model::DeployedFunction;
use crate::{alarms, names, StackError};

pub struct Http;

impl Kind for Http {
    fn name(&self) -> &'static str {
        "http"
    }

    fn event(&self) -> super::EventShape {
        super::EventShape::ApiRequest
    }

    fn wire(&self, stack: &mut Stack, at: &WireAt<'_>, d: &mut DeployedFunction) -> Result<Wired, StackError> {
        alarms::add_request_rate(stack, at.platform, d)?;
        let f = d.function;
        let local = names::local(&f);
        let integration = stack.add(
            Apigatewayv2Integration::new(&local, at.gateway.api.id(), "AWS_PROXY")
                .description(format!("{} / {}", f.module, f.name))
                .integration_uri(d.alias.invoke_arn())
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
            .qualifier(d.alias.name())
            .statement_id("AllowApiGatewayInvoke")
            .source_arn(at.gateway.api.execution_arn() + "/*/*"),
        )?;
        d.owns(&integration);
        d.owns(&permission);
        let mut routes = Vec::new();
        for route in at.module.routes_of(f) {
            stack.add(
                Apigatewayv2Route::new(names::route_local(route), at.gateway.api.id(), route.key())
                    .target(Expr::lit("integrations/") + integration.id())
                    .authorization_type("CUSTOM")
                    .authorizer_id(at.gateway.authorizer.id())
                    .operation_name(names::route_local(route)),
            )?;
            routes.push(json!({
                "method": route.method.as_str(),
                "path": route.path,
                "integration": Value::from(d.alias.invoke_arn()),
            }));
        }
        Ok(Wired { routes, subscription: None })
    }

    fn crash_meaning(&self) -> &'static str {
        "a crash or a timeout: handlers answer every error as HTTP"
    }

    fn events(&self, at: &CostAt<'_>, _f: &Function) -> Events {
        Events { per_month: at.requests_per_http_function, billed_ms: at.profile.warm_ms }
    }

    fn check_permission(&self, address: &str, p: &Value, target: &Function, apis: &[&str], out: &mut Findings) {
        api_permission(address, p, target, apis, out);
    }

    fn alarm_count(&self) -> usize {
        // Crashes, duration, throttles, and the 5xx rate of its request lines.
        4
    }
}

/// Only this stack's API may invoke a function that answers it: `apigateway.amazonaws.com`, with a source ARN under
/// the API's execution ARN (the authorizer's permission too).
pub fn api_permission(address: &str, p: &Value, target: &Function, apis: &[&str], out: &mut Findings) {
    if p["principal"] != "apigateway.amazonaws.com" {
        out.add(
            address,
            "-",
            "permission-principal",
            format!(
                "principal {} may invoke {} ({} trigger); only apigateway.amazonaws.com may invoke functions that answer the API",
                p["principal"],
                target.binary,
                target.trigger.kind()
            ),
        );
        return;
    }
    let source = p["source_arn"].as_str().unwrap_or("");
    let under_api =
        apis.iter().any(|api| source.starts_with(&format!("${{aws_apigatewayv2_api.{api}.execution_arn}}/")));
    if !under_api {
        out.add(
            address,
            "-",
            "permission-source",
            format!("source_arn `{source}` is not under this API's execution ARN"),
        );
    }
}
