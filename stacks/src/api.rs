//! The HTTP API with its CORS configuration, its `$default` stage (auto-deployed, throttled, each public route
//! more strictly, access-logged with the caller and what failed) and the access log group.

use infra_dsl::aws::apigatewayv2_api::CorsConfiguration;
use infra_dsl::aws::apigatewayv2_stage::{AccessLogSettings, DefaultRouteSettings, RouteSettings};
use infra_dsl::aws::{
    Apigatewayv2Api, Apigatewayv2Route, Apigatewayv2Stage, CloudwatchLogGroup, CloudwatchQueryDefinition, KmsKey,
};
use infra_dsl::{Block, Condition, DslError, Lifecycle, Ref, Stack};
use route_registry::{Method, PUBLIC_ROUTE_THROTTLE};

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

/// The API and its access log group, which the stage (added once the routes are, [`add_stage`]) writes to.
#[derive(Debug)]
pub struct Api {
    pub api: Ref<Apigatewayv2Api>,
    pub access_log: Ref<CloudwatchLogGroup>,
}

/// Adds the API and its access log group; `guard`, when given, makes `terraform plan` stop with its message.
pub fn add(stack: &mut Stack, account: &Account, key: &Ref<KmsKey>, guard: Option<Condition>) -> Result<Api, DslError> {
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
    let access_log = stack.add(
        CloudwatchLogGroup::new("api_access")
            .name(format!("/aws/apigateway/{}-api", settings.name_prefix))
            .retention_in_days(settings.log_retention_days)
            .kms_key_id(key.arn())
            .tags(account.tags()),
    )?;
    Ok(Api { api, access_log })
}

/// Adds the `$default` stage: every route throttled to the environment's limits, and each public route (no
/// authorizer, `Auth::Public`) to [`PUBLIC_ROUTE_THROTTLE`]. A stage's route settings name routes that must exist
/// when it is applied, so the stage waits for the public routes (`depends_on`). With public routes, the access log
/// gets a saved query of their requests (`<stage>/api/public routes`; not on the emulator, which lacks saved
/// queries): an access line of a public route has no `sub`, and this query names the routes that may have none.
pub fn add_stage(
    stack: &mut Stack,
    account: &Account,
    api: &Api,
    public_routes: &[(String, Ref<Apigatewayv2Route>)],
    emulator: bool,
) -> Result<(), DslError> {
    let settings = &account.settings;
    let mut stage = Apigatewayv2Stage::new("default", api.api.id(), "$default")
        .auto_deploy(true)
        .access_log_settings(AccessLogSettings::new(api.access_log.arn(), ACCESS_LOG_FORMAT))
        .default_route_settings(
            DefaultRouteSettings::new()
                .throttling_burst_limit(settings.throttling_burst_limit)
                .throttling_rate_limit(settings.throttling_rate_limit)
                .detailed_metrics_enabled(false),
        )
        .tags(account.tags());
    if !public_routes.is_empty() {
        let throttled: Vec<RouteSettings> = public_routes
            .iter()
            .map(|(key, _)| {
                RouteSettings::new(key.as_str())
                    .throttling_burst_limit(PUBLIC_ROUTE_THROTTLE.burst)
                    .throttling_rate_limit(f64::from(PUBLIC_ROUTE_THROTTLE.rate_per_s))
                    .detailed_metrics_enabled(false)
            })
            .collect();
        stage = stage.route_settings(throttled);
        for (_, route) in public_routes {
            stage = stage.depends_on(route);
        }
        if !emulator {
            let keys: Vec<String> = public_routes.iter().map(|(key, _)| format!("{key:?}")).collect();
            stack.add(
                CloudwatchQueryDefinition::new(
                    "api_public_routes",
                    format!("{}/api/public routes", settings.stage),
                    format!(
                        "fields @timestamp, routeKey, status, ip, userAgent, responseLatency\n\
                         | filter routeKey in [{}]\n| sort @timestamp desc",
                        keys.join(", ")
                    ),
                )
                .log_group_names(vec![api.access_log.name()]),
            )?;
        }
    }
    stack.add(stage)?;
    Ok(())
}
