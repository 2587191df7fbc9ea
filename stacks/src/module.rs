//! The CORA module abstraction: a module is a catalog entry (its functions, what each uses, its routes), and the
//! platform turns it into Lambdas, one least-privilege role per function, log groups, alarms, saved log queries,
//! API routes, integrations, permissions and outputs. A module writes no Terraform of its own.
//!
//! What a function may do is derived only from its declared uses, so the IAM policy, the environment variables
//! and `check-iam`'s expectations can never drift apart: a secret the function reads is both granted and passed
//! by ARN, and recorded in its [`DeclaredUses`].

use indexmap::IndexMap;
use infra_dsl::aws::{
    Apigatewayv2Api, Apigatewayv2Authorizer, Apigatewayv2Integration, Apigatewayv2Route, CloudwatchLogGroup,
    CloudwatchMetricAlarm, CloudwatchQueryDefinition, Condition, IamRole, IamRolePolicy, KmsKey, LambdaEnvironment,
    LambdaFunction, LambdaPermission, Lifecycle, Metric, MetricQuery, S3Bucket, SecretsmanagerSecret, SnsTopic, Tags,
    TracingConfig,
};
use infra_dsl::policy::{PolicyDocument, Statement};
use infra_dsl::{DslError, Expr, Ref, Stack};
use route_registry::{telemetry, Function, Module, Rename, Use};
use serde_json::{json, Value};

use crate::env::Settings;
use crate::uses::{self, DeclaredUses, ObjectAccess};

/// Platform resources a module's functions are wired to.
#[derive(Debug, Clone)]
pub struct Platform {
    pub settings: Settings,
    pub api: Ref<Apigatewayv2Api>,
    pub alarm_topic: Ref<SnsTopic>,
    pub okta_secret: Ref<SecretsmanagerSecret>,
    /// The environment's key: the secrets and log groups are encrypted with it (reading a secret needs
    /// `kms:Decrypt` on it).
    pub key: Ref<KmsKey>,
    pub documents: Ref<S3Bucket>,
    /// The code-signing configuration every function carries.
    pub code_signing: Option<Expr>,
    /// Building for the local emulator, which lacks some APIs (see [`EMULATOR_OMITS`]).
    pub emulator: bool,
}

/// Resource types left out of emulator stacks, with the reason; the deploy rehearsal reports them as not rehearsed.
pub const EMULATOR_OMITS: &[(&str, &str)] = &[
    ("aws_cloudwatch_query_definition", "moto 5.2.1 does not implement logs:PutQueryDefinition"),
    (
        "aws_lambda_code_signing_config and aws_signer_signing_profile (and the functions' code_signing_config_arn)",
        "moto 5.2.1 does not implement lambda:CreateCodeSigningConfig",
    ),
    (
        "aws_s3_bucket_logging",
        "moto 5.2.1 recognizes the log-delivery grant only as a one-string Resource, not the list the policy has",
    ),
];

/// `org-profiles` → `org_profiles`: the local name of everything that belongs to one function.
pub fn local_name(binary: &str) -> String {
    binary.replace('-', "_")
}

/// `GET /organizations/{id}/members/{userId}` → `get_organizations_id_members_user_id`.
pub fn route_local_name(route: &route_registry::Route) -> String {
    route_key_local_name(&route.key())
}

/// The local name of a route, from its key.
pub fn route_key_local_name(key: &str) -> String {
    let (method, path) = key.split_once(' ').unwrap_or((key, ""));
    let mut out = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
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

/// `{env}-{module}-{name}`, the deployed function's name.
pub fn function_name(settings: &Settings, f: &Function) -> String {
    format!("{}-{}-{}", settings.env, f.module, f.name)
}

/// What adding one function produced, for the module's outputs, the dashboard and the alarms.
#[derive(Debug, Clone)]
pub struct DeployedFunction {
    pub function: Function,
    pub name: String,
    pub lambda: Ref<LambdaFunction>,
    pub log_group: Ref<CloudwatchLogGroup>,
    pub alarms: Vec<Ref<CloudwatchMetricAlarm>>,
    /// Every resource address this function produced (for moves when it is renamed).
    pub addresses: Vec<String>,
}

/// Adds one Lambda with its role, policy, log group and alarms. Used for module functions and for the platform's
/// authorizer alike; `extra_env` is configuration beyond what the declared uses imply.
pub fn add_function(
    stack: &mut Stack,
    platform: &Platform,
    f: Function,
    extra_env: &[(&'static str, String)],
) -> Result<DeployedFunction, DslError> {
    let s = &platform.settings;
    let local = local_name(f.binary);
    let name = function_name(s, &f);
    let tags: Tags = [("Module".to_owned(), f.module.to_owned())].into_iter().collect();

    let log_group = stack.add(
        CloudwatchLogGroup::new(&local, format!("/aws/lambda/{name}"))
            .retention_in_days(s.log_retention_days)
            .kms_key_id(platform.key.arn())
            .tags(tags.clone()),
    )?;
    let role = stack.add(
        IamRole::new(&local, format!("{name}-role"), PolicyDocument::assume_role("lambda.amazonaws.com").to_expr()?)
            .description(format!("Execution role of {name}; grants only what the function declares."))
            .tags(tags.clone()),
    )?;

    // Grants and environment follow the declared uses, and nothing else.
    let mut declared = DeclaredUses { log_group: log_group.address().to_owned(), tracing: true, ..Default::default() };
    let mut statements = vec![Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"])
        .sid("OwnLogGroup")
        .resources([log_group.arn() + ":*"])];
    let mut variables: IndexMap<String, Expr> = IndexMap::new();
    variables.insert("REGION".into(), s.region.into());
    variables.insert("ENVIRONMENT".into(), s.env.as_str().into());
    variables.insert("LOG_LEVEL".into(), s.log_level.into());
    let mut secrets = Vec::new();
    for u in f.uses {
        match u {
            Use::Database => {
                // No secret: the URL and the publishable key are public by design (see `Settings`).
                variables.insert("SUPABASE_URL".into(), s.supabase_url.as_str().into());
                variables.insert("SUPABASE_ANON_KEY".into(), s.supabase_publishable_key.as_str().into());
            }
            Use::Okta => {
                secrets.push(&platform.okta_secret);
                variables.insert("OKTA_API_TOKEN_SECRET_ARN".into(), platform.okta_secret.arn());
                variables.insert("OKTA_DOMAIN".into(), s.okta_domain.as_str().into());
            }
            Use::Documents { prefix, access } => {
                let prefix = format!("{}/", prefix.trim_end_matches('/'));
                let objects = platform.documents.arn() + format!("/{prefix}*");
                let mut actions = Vec::new();
                if access.reads() {
                    actions.push("s3:GetObject");
                }
                if access.writes() {
                    actions.push("s3:PutObject");
                }
                statements.push(Statement::allow(&actions).sid("DeclaredDocuments").resources([objects]));
                declared.documents.push(ObjectAccess {
                    bucket: platform.documents.address().to_owned(),
                    prefix: prefix.clone(),
                    read: access.reads(),
                    write: access.writes(),
                });
                variables.insert("DOCUMENTS_BUCKET".into(), platform.documents.bucket());
                variables.insert("DOCUMENTS_PREFIX".into(), prefix.as_str().into());
            }
        }
    }
    if !secrets.is_empty() {
        statements.push(
            Statement::allow(&["secretsmanager:GetSecretValue"])
                .sid("DeclaredSecrets")
                .resources(secrets.iter().map(|r| r.arn()).collect::<Vec<_>>()),
        );
        // The secrets are encrypted with the platform's key; Secrets Manager decrypts on the caller's behalf.
        statements.push(
            Statement::allow(&["kms:Decrypt"]).sid("SecretsKey").resources([platform.key.arn()]).condition(
                "StringEquals",
                "kms:ViaService",
                [format!("secretsmanager.{}.amazonaws.com", s.region)],
            ),
        );
        declared.secrets = secrets.iter().map(|r| r.address().to_owned()).collect();
        declared.keys = vec![platform.key.address().to_owned()];
    }
    // Active tracing: X-Ray accepts no resource scoping, which check-iam's allowlist records.
    statements
        .push(Statement::allow(&["xray:PutTraceSegments", "xray:PutTelemetryRecords"]).sid("Tracing").resources(["*"]));
    if f.module != route_registry::AUTHORIZER.module {
        variables.insert("ADMIN_GROUP".into(), s.admin_group.into());
    }
    for (k, v) in extra_env {
        variables.insert((*k).into(), v.as_str().into());
    }
    let policy = stack.add(IamRolePolicy::new(
        &local,
        format!("{name}-policy"),
        role.id(),
        PolicyDocument::new(statements).to_expr()?,
    ))?;

    let zip_name = format!("zip_{local}");
    let zip = stack
        .local(&zip_name, Expr::raw("path.module") + format!("/../../target/lambda/{}/bootstrap.zip", f.binary))?;
    let zip_hcl = format!("local.{zip_name}");
    let memory = s.lambda_memory_mb.unwrap_or(f.memory_mb);
    let timeout = s.lambda_timeout_s.unwrap_or(f.timeout_s);
    let concurrency = if f == route_registry::AUTHORIZER {
        s.reserved_concurrency.authorizer
    } else {
        s.reserved_concurrency.module_function
    };
    let mut lambda = LambdaFunction::new(&local, name.as_str(), role.arn())
        .comment(uses::comment(&declared))
        .description(format!("{} / {}", f.module, f.name))
        .runtime("provided.al2023")
        .handler("bootstrap")
        .architectures(["arm64"])
        .memory_size(memory)
        .timeout(timeout)
        .reserved_concurrent_executions(concurrency)
        .tracing_config(TracingConfig { mode: "Active".into() })
        .filename(zip.clone())
        .source_code_hash(Expr::raw(format!("fileexists({zip_hcl}) ? filebase64sha256({zip_hcl}) : null")))
        .environment(LambdaEnvironment { variables })
        .tags(tags.clone())
        .lifecycle(Lifecycle {
            precondition: vec![Condition {
                condition: Expr::raw(format!("fileexists({zip_hcl})")),
                error_message: format!(
                    "The package of {name} is missing (target/lambda/{}/bootstrap.zip). Build the Lambda packages first: cargo xtask build",
                    f.binary
                ),
            }],
            ..Default::default()
        })
        .depends_on(&log_group)
        .depends_on(&policy);
    if let Some(config) = &platform.code_signing {
        lambda = lambda.code_signing_config_arn(config.clone());
    }
    let lambda = stack.add(lambda)?;

    let alarms = add_alarms(stack, platform, &f, &local, &name, timeout, &tags, &lambda)?;
    let mut addresses = vec![
        log_group.address().to_owned(),
        role.address().to_owned(),
        policy.address().to_owned(),
        lambda.address().to_owned(),
    ];
    addresses.extend(alarms.iter().map(|a| a.address().to_owned()));
    Ok(DeployedFunction { function: f, name, lambda, log_group, alarms, addresses })
}

/// A metric-alarm with the platform's actions: the topic on alarm and on recovery.
fn alarm(platform: &Platform, local: String, name: String, description: String) -> CloudwatchMetricAlarm {
    CloudwatchMetricAlarm::new(local, name, "GreaterThanThreshold", 1u32)
        .alarm_description(description)
        .treat_missing_data("notBreaching")
        .alarm_actions([platform.alarm_topic.arn()])
        .ok_actions([platform.alarm_topic.arn()])
}

/// A function's alarms. Module functions: the 5xx rate of what users saw (from the request lines' metrics, with a
/// minimum request count), crashes (`AWS/Lambda` Errors: a handler answers every failure, so an error here is a
/// crash or a timeout), duration at five sixths of the timeout, and throttles. The authorizer emits no request
/// lines: crashes, duration and throttles.
#[allow(clippy::too_many_arguments, reason = "the function's derived names, passed once")]
fn add_alarms(
    stack: &mut Stack,
    platform: &Platform,
    f: &Function,
    local: &str,
    name: &str,
    timeout_s: u32,
    tags: &Tags,
    lambda: &Ref<LambdaFunction>,
) -> Result<Vec<Ref<CloudwatchMetricAlarm>>, DslError> {
    let s = &platform.settings;
    let dims: IndexMap<String, Expr> = [("FunctionName".to_owned(), lambda.function_name())].into_iter().collect();
    let query_errors = format!("{}/errors", f.module);
    let mut out = Vec::new();
    if f.module != route_registry::AUTHORIZER.module {
        let app_dims: IndexMap<String, Expr> = [
            (telemetry::MODULE.to_owned(), Expr::lit(f.module)),
            (telemetry::FUNCTION.to_owned(), Expr::lit(telemetry::function_dimension(f))),
        ]
        .into_iter()
        .collect();
        let metric = |metric_name: &str| Metric {
            metric_name: metric_name.to_owned(),
            namespace: telemetry::namespace(s.env.as_str()),
            period: 300,
            stat: "Sum".to_owned(),
            dimensions: app_dims.clone(),
        };
        let min = s.alarm_min_requests;
        out.push(stack.add(
            alarm(
                platform,
                format!("{local}_5xx_rate"),
                format!("{name}-5xx-rate"),
                format!(
                    "More than 5% of requests to {name} answered 5xx in 5 minutes (with at least {min} requests). Run the saved query \"{query_errors}\"; the dashboard's DependencyErrors tells a failing database or identity provider from a bug in the function."
                ),
            )
            .threshold(5.0)
            .metric_query(vec![
                MetricQuery::metric("errors", metric(telemetry::SERVER_ERRORS)),
                MetricQuery::metric("requests", metric(telemetry::REQUESTS)),
                MetricQuery::expression(
                    "rate",
                    &format!("IF(requests >= {min}, 100 * errors / requests, 0)"),
                    "5xx rate (%)",
                ),
            ])
            .tags(tags.clone()),
        )?);
    }
    let lambda_metric = |alarm: CloudwatchMetricAlarm, metric_name: &str, statistic: &str| {
        alarm
            .namespace("AWS/Lambda")
            .metric_name(metric_name)
            .statistic(statistic)
            .period(300u32)
            .dimensions(dims.clone())
            .tags(tags.clone())
    };
    out.push(stack.add(lambda_metric(
        alarm(
            platform,
            format!("{local}_crashes"),
            format!("{name}-crashes"),
            format!(
                "{name} failed an invocation (a crash or a timeout: handlers answer every error as HTTP). Look for REPORT lines with a status in /aws/lambda/{name}, or run \"{query_errors}\"."
            ),
        )
        .threshold(0.0),
        "Errors",
        "Sum",
    ))?);
    // Alarm at five sixths of the timeout: 12.5 s for 15 s functions.
    let duration_threshold_ms = f64::from(timeout_s) * 1000.0 * 5.0 / 6.0;
    out.push(stack.add(lambda_metric(
        alarm(
            platform,
            format!("{local}_duration"),
            format!("{name}-duration"),
            format!(
                "{name} ran longer than {} s (its timeout is {timeout_s} s): a dependency is slow. Run \"{}/slow requests\".",
                duration_threshold_ms / 1000.0,
                f.module
            ),
        )
        .threshold(duration_threshold_ms.round()),
        "Duration",
        "Maximum",
    ))?);
    out.push(stack.add(lambda_metric(
        alarm(
            platform,
            format!("{local}_throttles"),
            format!("{name}-throttles"),
            format!(
                "{name} was throttled: it reached its reserved concurrency ({}), or the account's. Check the dashboard's concurrency and latency: a hung dependency holds requests.",
                if *f == route_registry::AUTHORIZER { s.reserved_concurrency.authorizer } else { s.reserved_concurrency.module_function }
            ),
        )
        .threshold(0.0),
        "Throttles",
        "Sum",
    ))?);
    Ok(out)
}

/// What adding a module produced.
#[derive(Debug, Clone)]
pub struct DeployedModule {
    pub module: Module,
    pub functions: Vec<DeployedFunction>,
}

/// Adds a whole module: its functions, then one integration and invoke permission per function and one route per
/// catalog entry, the saved log queries, and the `<module>_api_routes` / `<module>_lambda_arns` outputs.
pub fn add_module(
    stack: &mut Stack,
    platform: &Platform,
    authorizer: &Ref<Apigatewayv2Authorizer>,
    module: &Module,
) -> Result<DeployedModule, DslError> {
    let module_local = local_name(module.name);
    let mut routes_out = Vec::new();
    let mut arns_out = serde_json::Map::new();
    let mut deployed_functions = Vec::new();

    for f in module.functions {
        let mut deployed = add_function(stack, platform, *f, &[])?;
        let local = local_name(f.binary);
        let integration = stack.add(
            Apigatewayv2Integration::new(&local, platform.api.id(), "AWS_PROXY")
                .description(format!("{} / {}", f.module, f.name))
                .integration_uri(deployed.lambda.invoke_arn())
                .integration_method("POST")
                .payload_format_version("2.0")
                .timeout_milliseconds(30_000u32),
        )?;
        let permission = stack.add(
            LambdaPermission::new(
                format!("{local}_api"),
                "AllowApiGatewayInvoke",
                "lambda:InvokeFunction",
                deployed.lambda.function_name(),
                "apigateway.amazonaws.com",
            )
            .source_arn(platform.api.execution_arn() + "/*/*"),
        )?;
        deployed.addresses.extend([integration.address().to_owned(), permission.address().to_owned()]);
        for route in module.routes_of(*f) {
            stack.add(
                Apigatewayv2Route::new(route_local_name(route), platform.api.id(), route.key())
                    .target(Expr::lit("integrations/") + integration.id())
                    .authorization_type("CUSTOM")
                    .authorizer_id(authorizer.id())
                    .operation_name(route_local_name(route)),
            )?;
            routes_out.push(json!({
                "method": route.method.as_str(),
                "path": route.path,
                "integration": Value::from(deployed.lambda.invoke_arn()),
            }));
        }
        arns_out.insert(local_name(f.name), deployed.lambda.arn().into());
        deployed_functions.push(deployed);
    }

    if !platform.emulator {
        let groups: Vec<Expr> = deployed_functions.iter().map(|d| d.log_group.name()).collect();
        add_queries(stack, module.name, &module_local, &groups)?;
    }
    // Renamed functions and routes keep their resources: Terraform moves them to the new addresses.
    for rename in module.renamed {
        match rename {
            Rename::Function { from, to } => {
                let Some(d) = deployed_functions.iter().find(|d| d.function.binary == *to) else {
                    return Err(DslError::Dangling {
                        from: format!("{} renamed function {from}", module.name),
                        to: (*to).to_owned(),
                    });
                };
                let (old, new) = (local_name(from), local_name(to));
                for address in &d.addresses {
                    let (ty, name) = address.split_once('.').unwrap_or(("", address));
                    if let Some(rest) = name.strip_prefix(&new) {
                        stack.moved_address(&format!("{ty}.{old}{rest}"), address)?;
                    }
                }
            }
            Rename::Route { from, to } => {
                let new = format!("aws_apigatewayv2_route.{}", route_key_local_name(to));
                stack.moved_address(&format!("aws_apigatewayv2_route.{}", route_key_local_name(from)), &new)?;
            }
        }
    }
    stack.output(
        &format!("{module_local}_api_routes"),
        &format!("The routes {} serves, with their integrations.", module.name),
        Value::Array(routes_out),
    )?;
    stack.output(
        &format!("{module_local}_lambda_arns"),
        &format!("The ARNs of {}'s functions, by function.", module.name),
        Value::Object(arns_out),
    )?;
    Ok(DeployedModule { module: *module, functions: deployed_functions })
}

/// The saved CloudWatch Logs Insights queries of a module: the seed's three (field names are the request line's:
/// `level`, `message`, `user_email`, `error`, `duration`, `endpoint`) and cold starts from Lambda's `REPORT` lines.
pub const QUERIES: [(&str, &str, &str); 4] = [
    (
        "errors",
        "errors",
        "fields @timestamp, message, endpoint, status, user_email, error\n| filter level = \"ERROR\"\n| sort @timestamp desc\n| limit 100",
    ),
    (
        "slow_requests",
        "slow requests",
        "fields @timestamp, message, endpoint, user_email, duration\n| filter duration > 5000\n| sort duration desc\n| limit 50",
    ),
    ("requests_by_endpoint", "requests by endpoint", "fields endpoint\n| stats count() by endpoint"),
    (
        "cold_starts",
        "cold starts",
        "filter @type = \"REPORT\" and ispresent(@initDuration)\n| stats count() as cold_starts, avg(@initDuration) as avg_init_ms, max(@initDuration) as max_init_ms by bin(1h)",
    ),
];

fn add_queries(stack: &mut Stack, module: &str, module_local: &str, log_groups: &[Expr]) -> Result<(), DslError> {
    for (local, title, query) in QUERIES {
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
