//! The Lambda authorizer: a function like any other (role, logs, alarms), the API's REQUEST authorizer that calls
//! it (payload 2.0, simple responses, decisions cached per Authorization header for the environment's TTL), and the
//! permission for this API's authorizer alone to invoke it.

use infra_dsl::aws::{Apigatewayv2Api, Apigatewayv2Authorizer, LambdaPermission};
use infra_dsl::{DslError, Ref, Stack};

use crate::model::{DeployedFunction, Issuer, Platform, Wiring};
use crate::{alarms, lambda, triggers};

/// Adds the authorizer function and the API's authorizer; returns both.
pub fn add(
    stack: &mut Stack,
    platform: &Platform,
    api: &Ref<Apigatewayv2Api>,
    issuer: &Issuer,
) -> Result<(DeployedFunction, Ref<Apigatewayv2Authorizer>), DslError> {
    let settings = &platform.settings;
    let (issuer_url, jwks_url) = match issuer {
        Issuer::Okta => (settings.okta_issuer.clone(), format!("{}/v1/keys", settings.okta_issuer)),
        Issuer::Development { issuer, jwks_url } => (issuer.clone(), jwks_url.clone()),
    };
    let mut d = lambda::add(
        stack,
        platform,
        route_registry::AUTHORIZER,
        Wiring::default(),
        &[("OKTA_ISSUER", issuer_url), ("OKTA_AUDIENCE", settings.okta_audience.clone()), ("OKTA_JWKS_URL", jwks_url)],
    )?;
    let kind = triggers::of(&route_registry::AUTHORIZER.trigger);
    alarms::add_lambda(stack, platform, &mut d, kind.crash_meaning(), kind.reserved_concurrency(platform))?;
    let authorizer = stack.add(
        Apigatewayv2Authorizer::new("okta", api.id(), "REQUEST", format!("{}-okta", settings.name_prefix))
            .authorizer_uri(d.alias.invoke_arn())
            .identity_sources(["$request.header.Authorization"])
            .authorizer_payload_format_version("2.0")
            .enable_simple_responses(true)
            .authorizer_result_ttl_in_seconds(settings.authorizer_cache_ttl_s),
    )?;
    stack.add(
        LambdaPermission::new(
            "platform_authorizer_api",
            "lambda:InvokeFunction",
            d.lambda.function_name(),
            "apigateway.amazonaws.com",
        )
        .qualifier(d.alias.name())
        .statement_id("AllowApiGatewayAuthorizer")
        .source_arn(api.execution_arn() + "/authorizers/" + authorizer.id()),
    )?;
    Ok((d, authorizer))
}
