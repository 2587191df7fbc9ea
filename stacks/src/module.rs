//! The CORA module abstraction: a module declares its functions and what each one uses; the platform turns that
//! into Lambdas, one least-privilege role per function, log groups, alarms, saved log queries, API routes,
//! integrations, permissions and outputs. A module writes no per-route Terraform.
//!
//! What a function may do is derived only from its declared [`Uses`], so the IAM policy and the environment
//! variables can never drift apart: a secret the function reads is both granted and passed by ARN.

use indexmap::IndexMap;
use infra_dsl::aws::{
    Apigatewayv2Api, Apigatewayv2Authorizer, Apigatewayv2Integration, Apigatewayv2Route, CloudwatchLogGroup,
    CloudwatchMetricAlarm, CloudwatchQueryDefinition, Condition, IamRole, IamRolePolicy, LambdaEnvironment,
    LambdaFunction, LambdaPermission, Lifecycle, Metric, MetricQuery, SecretsmanagerSecret, SnsTopic, Tags,
};
use infra_dsl::policy::{PolicyDocument, Statement};
use infra_dsl::{DslError, Expr, Ref, Stack};
use route_registry::{Function, Module};
use serde_json::{json, Value};

use crate::env::Settings;

/// A secret a function reads at run time (by ARN, through Secrets Manager).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretUse {
    /// Supabase URL, anon key and JWT secret; passed as `SUPABASE_SECRET_ARN`.
    Supabase,
    /// The Okta API token; passed as `OKTA_API_TOKEN_SECRET_ARN`.
    OktaApiToken,
}

/// What a function uses besides its own log group (which every function gets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    pub secrets: Vec<SecretUse>,
}

/// One function of a module, with its sizing and declared uses.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub function: Function,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub uses: Uses,
    /// Extra environment variables (plain configuration, never secret values).
    pub env: Vec<(&'static str, String)>,
}

/// A module as the stacks see it: the registry's module plus how each of its functions is deployed.
#[derive(Debug, Clone)]
pub struct ModuleSpec {
    pub module: Module,
    pub functions: Vec<FunctionSpec>,
}

/// Platform resources a module's functions are wired to.
#[derive(Debug, Clone)]
pub struct Platform {
    pub settings: Settings,
    pub api: Ref<Apigatewayv2Api>,
    pub authorizer: Ref<Apigatewayv2Authorizer>,
    pub alarm_topic: Ref<SnsTopic>,
    pub supabase_secret: Ref<SecretsmanagerSecret>,
    pub okta_secret: Ref<SecretsmanagerSecret>,
    /// Building for the local emulator, which lacks some APIs (see [`EMULATOR_OMITS`]).
    pub emulator: bool,
}

/// Resource types left out of emulator stacks, with the reason; the deploy rehearsal reports them as not rehearsed.
pub const EMULATOR_OMITS: &[(&str, &str)] =
    &[("aws_cloudwatch_query_definition", "moto 5.2.1 does not implement logs:PutQueryDefinition")];

impl Platform {
    fn secret(&self, use_: SecretUse) -> &Ref<SecretsmanagerSecret> {
        match use_ {
            SecretUse::Supabase => &self.supabase_secret,
            SecretUse::OktaApiToken => &self.okta_secret,
        }
    }
}

/// How a function's `"//"` comment starts; the rest is `logs=<log group address>; secrets=<addresses,…>`.
pub const DECLARED_USES_PREFIX: &str = "Declared uses (checked by cargo xtask check-iam): ";

/// `org-profiles` → `org_profiles`: the local name of everything that belongs to one function.
pub fn local_name(binary: &str) -> String {
    binary.replace('-', "_")
}

/// `GET /organizations/{id}/members/{userId}` → `get_organizations_id_members_user_id`.
pub fn route_local_name(route: &route_registry::Route) -> String {
    let mut out = route.method.as_str().to_ascii_lowercase();
    for seg in route.path.split('/').filter(|s| !s.is_empty()) {
        out.push('_');
        for c in seg.chars().filter(|c| c.is_ascii_alphanumeric()) {
            if c.is_ascii_uppercase() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// What adding one function produced, for the module's outputs.
#[derive(Debug, Clone)]
pub struct DeployedFunction {
    pub spec: FunctionSpec,
    pub lambda: Ref<LambdaFunction>,
    pub log_group: Ref<CloudwatchLogGroup>,
}

/// Adds one Lambda with its role, policy, log group and the three standard alarms. Used for module functions
/// and for the platform's authorizer alike.
pub fn add_function(
    stack: &mut Stack,
    platform_settings: &Settings,
    alarm_topic: &Ref<SnsTopic>,
    secrets: &dyn Fn(SecretUse) -> Ref<SecretsmanagerSecret>,
    spec: &FunctionSpec,
    extra_env: &[(&'static str, Expr)],
) -> Result<DeployedFunction, DslError> {
    let s = platform_settings;
    let f = spec.function;
    let local = local_name(f.binary);
    let function_name = format!("{}-{}-{}", s.env, f.module, f.name);
    let tags: Tags = [("Module".to_owned(), f.module.to_owned())].into_iter().collect();

    let log_group = stack.add(
        CloudwatchLogGroup::new(&local, format!("/aws/lambda/{function_name}"))
            .retention_in_days(s.log_retention_days)
            .tags(tags.clone()),
    )?;

    let role = stack.add(
        IamRole::new(
            &local,
            format!("{function_name}-role"),
            PolicyDocument::assume_role("lambda.amazonaws.com").to_expr()?,
        )
        .description(format!("Execution role of {function_name}; grants only what the function declares."))
        .tags(tags.clone()),
    )?;

    let mut statements = vec![Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"])
        .sid("OwnLogGroup")
        .resources([log_group.arn() + ":*"])];
    let secret_arns: Vec<Expr> = spec.uses.secrets.iter().map(|u| secrets(*u).arn()).collect();
    if !secret_arns.is_empty() {
        statements
            .push(Statement::allow(&["secretsmanager:GetSecretValue"]).sid("DeclaredSecrets").resources(secret_arns));
    }
    let policy = stack.add(IamRolePolicy::new(
        &local,
        format!("{function_name}-policy"),
        role.id(),
        PolicyDocument::new(statements).to_expr()?,
    ))?;

    let mut variables: IndexMap<String, Expr> = IndexMap::new();
    variables.insert("REGION".into(), s.region.into());
    variables.insert("ENVIRONMENT".into(), s.env.as_str().into());
    variables.insert("LOG_LEVEL".into(), s.log_level.into());
    for use_ in &spec.uses.secrets {
        let (name, value) = match use_ {
            SecretUse::Supabase => ("SUPABASE_SECRET_ARN", secrets(*use_).arn()),
            SecretUse::OktaApiToken => ("OKTA_API_TOKEN_SECRET_ARN", secrets(*use_).arn()),
        };
        variables.insert(name.into(), value);
    }
    for (k, v) in &spec.env {
        variables.insert((*k).into(), v.into());
    }
    for (k, v) in extra_env {
        variables.insert((*k).into(), v.clone());
    }

    let zip_name = format!("zip_{local}");
    let zip = stack
        .local(&zip_name, Expr::raw("path.module") + format!("/../../target/lambda/{}/bootstrap.zip", f.binary))?;
    let zip_hcl = format!("local.{zip_name}");
    // The declared uses travel with the output, so `cargo xtask check-iam` can compare grants with them.
    let secret_addresses: Vec<String> = spec.uses.secrets.iter().map(|u| secrets(*u).address().to_owned()).collect();
    let declared =
        format!("{DECLARED_USES_PREFIX}logs={}; secrets={}", log_group.address(), secret_addresses.join(","));
    let memory = s.lambda_memory_mb.unwrap_or(spec.memory_mb);
    let timeout = s.lambda_timeout_s.unwrap_or(spec.timeout_s);
    let lambda = stack.add(
        LambdaFunction::new(&local, function_name.as_str(), role.arn())
            .comment(declared)
            .description(format!("{} / {}", f.module, f.name))
            .runtime("provided.al2023")
            .handler("bootstrap")
            .architectures(["arm64"])
            .memory_size(memory)
            .timeout(timeout)
            .filename(zip.clone())
            .source_code_hash(Expr::raw(format!("fileexists({zip_hcl}) ? filebase64sha256({zip_hcl}) : null")))
            .environment(LambdaEnvironment { variables })
            .tags(tags.clone())
            .lifecycle(Lifecycle {
                precondition: vec![Condition {
                    condition: Expr::raw(format!("fileexists({zip_hcl})")),
                    error_message: format!(
                        "The package of {function_name} is missing (target/lambda/{}/bootstrap.zip). Build the Lambda packages first: cargo xtask build",
                        f.binary
                    ),
                }],
                create_before_destroy: false,
            })
            .depends_on(&log_group)
            .depends_on(&policy),
    )?;

    add_alarms(stack, alarm_topic, &local, &function_name, timeout, &tags, &lambda)?;
    Ok(DeployedFunction { spec: spec.clone(), lambda, log_group })
}

/// The seed's three alarms: error rate > 5 % (metric math), duration near the timeout, any throttle.
fn add_alarms(
    stack: &mut Stack,
    topic: &Ref<SnsTopic>,
    local: &str,
    function_name: &str,
    timeout_s: u32,
    tags: &Tags,
    lambda: &Ref<LambdaFunction>,
) -> Result<(), DslError> {
    let dims: IndexMap<String, Expr> = [("FunctionName".to_owned(), lambda.function_name())].into_iter().collect();
    let metric = |name: &str, stat: &str| Metric {
        metric_name: name.to_owned(),
        namespace: "AWS/Lambda".to_owned(),
        period: 300,
        stat: stat.to_owned(),
        dimensions: dims.clone(),
    };
    stack.add(
        CloudwatchMetricAlarm::new(
            format!("{local}_error_rate"),
            format!("{function_name}-error-rate"),
            "GreaterThanThreshold",
            1u32,
        )
        .alarm_description(format!("More than 5% of {function_name} invocations failed in 5 minutes."))
        .threshold(5.0)
        .metric_query(vec![
            MetricQuery::metric("errors", metric("Errors", "Sum")),
            MetricQuery::metric("invocations", metric("Invocations", "Sum")),
            MetricQuery::expression(
                "error_rate",
                "IF(invocations > 0, 100 * errors / invocations, 0)",
                "Error rate (%)",
            ),
        ])
        .treat_missing_data("notBreaching")
        .alarm_actions([topic.arn()])
        .ok_actions([topic.arn()])
        .tags(tags.clone()),
    )?;
    // Alarm at five sixths of the timeout: 25 s for the seed's 30 s functions.
    let duration_threshold_ms = f64::from(timeout_s) * 1000.0 * 5.0 / 6.0;
    stack.add(
        CloudwatchMetricAlarm::new(
            format!("{local}_duration"),
            format!("{function_name}-duration"),
            "GreaterThanThreshold",
            1u32,
        )
        .alarm_description(format!(
            "{function_name} ran longer than {} s (its timeout is {timeout_s} s).",
            duration_threshold_ms / 1000.0
        ))
        .namespace("AWS/Lambda")
        .metric_name("Duration")
        .statistic("Maximum")
        .period(300u32)
        .dimensions(dims.clone())
        .threshold(duration_threshold_ms.round())
        .treat_missing_data("notBreaching")
        .alarm_actions([topic.arn()])
        .ok_actions([topic.arn()])
        .tags(tags.clone()),
    )?;
    stack.add(
        CloudwatchMetricAlarm::new(
            format!("{local}_throttles"),
            format!("{function_name}-throttles"),
            "GreaterThanThreshold",
            1u32,
        )
        .alarm_description(format!("{function_name} was throttled."))
        .namespace("AWS/Lambda")
        .metric_name("Throttles")
        .statistic("Sum")
        .period(300u32)
        .dimensions(dims)
        .threshold(0.0)
        .treat_missing_data("notBreaching")
        .alarm_actions([topic.arn()])
        .ok_actions([topic.arn()])
        .tags(tags.clone()),
    )?;
    Ok(())
}

/// Adds a whole module: its functions, then one integration and invoke permission per function and one route per
/// registry entry, the saved log queries, and the `<module>_api_routes` / `<module>_lambda_arns` outputs.
pub fn add_module(stack: &mut Stack, platform: &Platform, spec: &ModuleSpec) -> Result<(), DslError> {
    let secrets = |u: SecretUse| platform.secret(u).clone();
    let module_local = local_name(spec.module.name);
    let mut routes_out = Vec::new();
    let mut arns_out = serde_json::Map::new();
    let mut log_groups = Vec::new();

    for fspec in &spec.functions {
        let deployed = add_function(stack, &platform.settings, &platform.alarm_topic, &secrets, fspec, &[])?;
        let local = local_name(fspec.function.binary);
        let integration = stack.add(
            Apigatewayv2Integration::new(&local, platform.api.id(), "AWS_PROXY")
                .description(format!("{} / {}", fspec.function.module, fspec.function.name))
                .integration_uri(deployed.lambda.invoke_arn())
                .integration_method("POST")
                .payload_format_version("2.0")
                .timeout_milliseconds(30_000u32),
        )?;
        stack.add(
            LambdaPermission::new(
                format!("{local}_api"),
                "AllowApiGatewayInvoke",
                "lambda:InvokeFunction",
                deployed.lambda.function_name(),
                "apigateway.amazonaws.com",
            )
            .source_arn(platform.api.execution_arn() + "/*/*"),
        )?;
        for route in spec.module.routes_of(fspec.function) {
            stack.add(
                Apigatewayv2Route::new(route_local_name(route), platform.api.id(), route.key())
                    .target(Expr::lit("integrations/") + integration.id())
                    .authorization_type("CUSTOM")
                    .authorizer_id(platform.authorizer.id())
                    .operation_name(route_local_name(route)),
            )?;
            routes_out.push(json!({
                "method": route.method.as_str(),
                "path": route.path,
                "integration": Value::from(deployed.lambda.invoke_arn()),
            }));
        }
        arns_out.insert(local_name(fspec.function.name), deployed.lambda.arn().into());
        log_groups.push(deployed.log_group.name());
    }

    if !platform.emulator {
        add_queries(stack, spec.module.name, &module_local, &log_groups)?;
    }
    stack.output(
        &format!("{module_local}_api_routes"),
        &format!("The routes {} serves, with their integrations.", spec.module.name),
        Value::Array(routes_out),
    )?;
    stack.output(
        &format!("{module_local}_lambda_arns"),
        &format!("The ARNs of {}'s functions, by function.", spec.module.name),
        Value::Object(arns_out),
    )?;
    Ok(())
}

/// The seed's three CloudWatch Logs Insights queries, saved over the module's log groups. Field names are the
/// ones the handlers log (`level`, `message`, `user_email`, `error`, `duration`, `endpoint`).
fn add_queries(stack: &mut Stack, module: &str, module_local: &str, log_groups: &[Expr]) -> Result<(), DslError> {
    let queries = [
        (
            "errors",
            "errors in the last hour",
            "fields @timestamp, message, user_email, error\n| filter level = \"ERROR\"\n| sort @timestamp desc\n| limit 100",
        ),
        (
            "slow_requests",
            "slow requests",
            "fields @timestamp, message, user_email, duration\n| filter duration > 5000\n| sort duration desc\n| limit 50",
        ),
        ("requests_by_endpoint", "requests by endpoint", "fields endpoint\n| stats count() by endpoint"),
    ];
    for (local, title, query) in queries {
        stack.add(
            CloudwatchQueryDefinition::new(format!("{module_local}_{local}"), format!("{module}/{title}"), query)
                .log_group_names(log_groups.to_vec()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_local_names_are_readable_and_unique() {
        let names: Vec<String> = route_registry::all_routes().map(route_local_name).collect();
        assert!(names.contains(&"delete_organizations_id_members_user_id".to_owned()), "{names:?}");
        assert!(names.contains(&"get_profiles_me".to_owned()));
        let mut dedup = names.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), names.len());
    }
}
