//! The HTTP API with its CORS configuration, its `$default` stage (auto-deployed, throttled, access-logged with the
//! caller and what failed) and the access log group.

use infra_dsl::aws::apigatewayv2_api::CorsConfiguration;
use infra_dsl::aws::apigatewayv2_stage::{AccessLogSettings, DefaultRouteSettings};
use infra_dsl::aws::{Apigatewayv2Api, Apigatewayv2Stage, CloudwatchLogGroup, KmsKey};
use infra_dsl::{Block, Condition, DslError, Lifecycle, Ref, Stack};
use route_registry::Method;

use crate::model::Account;

/// The access-log line API Gateway writes per request: one JSON object, with the caller (`sub`) so a request can be
/// traced to a user, and what failed (authorizer or integration) with how long each part took.
pub const ACCESS_LOG_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent","#,
    r#""requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","#,
    r#""status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength","#,
    r#""sub":"$context.authorizer.sub","responseLatency":"$context.responseLatency","#,
    r#""integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage","#,
    r#""authorizerError":"$context.authorizer.error"}"#
);

/// Adds the API and its stage; `guard`, when given, makes `terraform plan` stop with its message.
pub fn add(
    stack: &mut Stack,
    account: &Account,
    key: &Ref<KmsKey>,
    guard: Option<Condition>,
) -> Result<Ref<Apigatewayv2Api>, DslError> {
    let settings = &account.settings;
    let methods: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).chain(["OPTIONS"]).collect();
    let api = stack.add(
        Apigatewayv2Api::new("main", format!("{}-api", settings.name_prefix), "HTTP")
            .description("STS Career Platform API")
            .cors_configuration(
                CorsConfiguration::new()
                    .allow_origins(settings.cors_origins.clone())
                    .allow_methods(methods)
                    .allow_headers(["authorization", "content-type"])
                    .max_age(3600),
            )
            .tags(account.tags())
            .lifecycle_opt(guard.map(|g| Lifecycle { precondition: vec![g], ..Default::default() })),
    )?;
    let logs = stack.add(
        CloudwatchLogGroup::new("api_access")
            .name(format!("/aws/apigateway/{}-api", settings.name_prefix))
            .retention_in_days(settings.log_retention_days)
            .kms_key_id(key.arn())
            .tags(account.tags()),
    )?;
    stack.add(
        Apigatewayv2Stage::new("default", api.id(), "$default")
            .auto_deploy(true)
            .access_log_settings(AccessLogSettings::new(logs.arn(), ACCESS_LOG_FORMAT))
            .default_route_settings(
                DefaultRouteSettings::new()
                    .throttling_burst_limit(settings.throttling_burst_limit)
                    .throttling_rate_limit(settings.throttling_rate_limit)
                    .detailed_metrics_enabled(false),
            )
            .tags(account.tags()),
    )?;
    Ok(api)
}
