//! The HTTP trigger: a function that serves API routes gets one API Gateway integration, the permission for this
//! API to invoke it, and one route per catalog route it owns, each behind the Lambda authorizer but a route the
//! catalog marks public (`Auth::Public`: no authorizer, throttled by the stage); its alarm is the
//! 5xx rate of what its callers saw. Its events are the module's API requests, spread over its HTTP functions.

use infra_dsl::aws::{Apigatewayv2Integration, Apigatewayv2Route, LambdaPermission};
use infra_dsl::{Expr, Stack};
use route_registry::Function;
use serde_json::{json, Value};

use super::{CostAt, Events, IamAt, Kind, WireAt, Wired};
use crate::findings::{blocks, Findings};
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
        let mut public_routes = Vec::new();
        for route in at.module.routes_of(f) {
            let block = Apigatewayv2Route::new(names::route_local(route), at.gateway.api.id(), route.key())
                .target(Expr::lit("integrations/") + integration.id())
                .operation_name(names::route_local(route));
            // Behind the authorizer unless the catalog marks the route public (`Auth::Public`): then no token is
            // asked for, and the stage throttles the route (`api::add_stage`).
            let block = match route.is_public() {
                true => block.authorization_type("NONE"),
                false => block.authorization_type("CUSTOM").authorizer_id(at.gateway.authorizer.id()),
            };
            let added = stack.add(block)?;
            if route.is_public() {
                public_routes.push((route.key(), added));
            }
            routes.push(json!({
                "method": route.method.as_str(),
                "path": route.path,
                "integration": Value::from(d.alias.invoke_arn()),
            }));
        }
        Ok(Wired { routes, subscription: None, public_routes })
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

    fn check_resources(&self, at: &IamAt<'_>, out: &mut Findings) {
        check_routes(at, out);
    }

    fn alarm_count(&self) -> usize {
        // Crashes, duration, throttles, and the 5xx rate of its request lines.
        4
    }
}

/// Every API route is behind the authorizer, but a route the catalog marks public; and the stage throttles each
/// public route to the catalog's [`route_registry::PUBLIC_ROUTE_THROTTLE`] at most. What the file says about a route
/// is never taken as the reason: the catalog is.
pub fn check_routes(at: &IamAt<'_>, out: &mut Findings) {
    let public = at.public_routes;
    let routes = blocks(at.doc, "aws_apigatewayv2_route");
    for (name, route) in &routes {
        let key = route["route_key"].as_str().unwrap_or_default();
        let behind_authorizer = route["authorization_type"] == "CUSTOM" && route["authorizer_id"].is_string();
        if !behind_authorizer && !public.iter().any(|p| p == key) {
            out.add(
                &format!("aws_apigatewayv2_route.{name}"),
                "-",
                "route-without-authorizer",
                format!(
                    "`{key}` is served without the authorizer, and the catalog does not mark it public: put it behind \
                     the authorizer (authorization_type CUSTOM), or mark it `Auth::Public` in the catalog"
                ),
            );
        }
    }
    let limit = route_registry::PUBLIC_ROUTE_THROTTLE;
    let stages = blocks(at.doc, "aws_apigatewayv2_stage");
    let served = |key: &str| routes.iter().any(|(_, r)| r["route_key"] == key);
    for key in public.iter().filter(|k| served(k)) {
        let throttled = stages.iter().any(|(_, stage)| {
            stage["route_settings"].as_array().into_iter().flatten().any(|s| {
                s["route_key"] == key.as_str()
                    && s["throttling_rate_limit"].as_f64().is_some_and(|r| r <= f64::from(limit.rate_per_s))
                    && s["throttling_burst_limit"].as_u64().is_some_and(|b| b <= u64::from(limit.burst))
            })
        });
        if !throttled {
            out.add(
                "aws_apigatewayv2_stage.default",
                "-",
                "public-route-unthrottled",
                format!(
                    "the public route `{key}` is not throttled to {} requests a second (bursts of {}) by the stage's \
                     route settings",
                    limit.rate_per_s, limit.burst
                ),
            );
        }
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
