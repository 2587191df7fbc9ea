//! The platform stack of one environment: the HTTP API with CORS, its `$default` stage and access logs, the Lambda
//! authorizer, the alarm topic, the secrets (metadata only), the documents bucket, and every CORA module.

use infra_dsl::aws::{
    AccessLogSettings, Apigatewayv2Api, Apigatewayv2Authorizer, Apigatewayv2Stage, AwsProvider, CallerIdentity,
    CloudwatchLogGroup, Cors, DefaultTags, LambdaPermission, RouteSettings, S3Bucket, S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfiguration, S3BucketVersioning, SecretsmanagerSecret, SnsTopic, SseDefault, SseRule,
    Tags, VersioningConfiguration,
};
use infra_dsl::{Backend, DslError, Expr, Stack};
use route_registry::Method;

use crate::env::Settings;
use crate::module::{add_function, add_module, FunctionSpec, Platform, SecretUse, Uses};
use crate::modules;

/// The `hashicorp/aws` versions the output is written for: 5.x from 5.100 on.
pub const AWS_PROVIDER_VERSION: &str = ">= 5.100, < 6.0";
/// `use_lockfile` in the S3 backend needs Terraform 1.10.
pub const TERRAFORM_VERSION: &str = ">= 1.10";

/// The access-log line API Gateway writes per request (JSON, one line).
const ACCESS_LOG_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","#,
    r#""httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status","#,
    r#""protocol":"$context.protocol","responseLength":"$context.responseLength","#,
    r#""integrationLatency":"$context.integrationLatency","authorizerError":"$context.authorizer.error"}"#
);

/// Where the stack will be applied: real AWS, or a local emulator (for the deploy rehearsal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An AWS account, with the environment's S3 state backend.
    Aws,
    /// An AWS API emulator at `endpoint`, with local state and test credentials.
    Emulator { endpoint: String },
}

/// Builds the whole platform for one environment.
pub fn build(settings: &Settings, target: &Target, header: &str) -> Result<Stack, DslError> {
    let s = settings;
    let mut stack = Stack::new(header, TERRAFORM_VERSION);
    stack.require_provider("aws", "hashicorp/aws", AWS_PROVIDER_VERSION);

    let default_tags: Tags = [("Environment", s.env.as_str()), ("Project", s.project), ("ManagedBy", "terraform")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut provider = AwsProvider {
        region: s.region.into(),
        default_tags: Some(DefaultTags { tags: default_tags }),
        ..Default::default()
    };
    match target {
        Target::Aws => stack.backend(Backend::S3 {
            bucket: s.backend.bucket.clone(),
            key: s.backend.key.to_owned(),
            region: s.backend.region.to_owned(),
            use_lockfile: s.backend.use_lockfile,
        }),
        Target::Emulator { endpoint } => {
            stack.backend(Backend::Local { path: "terraform.tfstate".into() });
            provider.access_key = Some("test".into());
            provider.secret_key = Some("test".into());
            provider.skip_credentials_validation = Some(true);
            provider.skip_requesting_account_id = Some(true);
            provider.skip_metadata_api_check = Some(true);
            provider.s3_use_path_style = Some(true);
            // Fail fast on an API the emulator lacks instead of retrying for minutes.
            provider.max_retries = Some(1);
            let services =
                ["apigatewayv2", "cloudwatch", "iam", "lambda", "logs", "s3", "secretsmanager", "sns", "sts"];
            provider.endpoints = vec![services.iter().map(|svc| ((*svc).to_owned(), endpoint.clone())).collect()];
        }
    }
    stack.provider("aws", &provider)?;

    let platform_tags: Tags = [("Module".to_owned(), "platform".to_owned())].into_iter().collect();
    let account = stack.data(CallerIdentity::new("current"))?;

    // Alarm topic, secrets, documents bucket.
    let alarm_topic =
        stack.add(SnsTopic::new("alarms", format!("{}-alarms", s.name_prefix)).tags(platform_tags.clone()))?;
    let supabase_secret = stack.add(
        SecretsmanagerSecret::new("supabase", format!("{}-supabase-credentials", s.name_prefix))
            .description("Supabase credentials as JSON: url, anon_key, jwt_secret. Set the value outside Terraform.")
            .recovery_window_in_days(s.secret_recovery_window_days)
            .tags(platform_tags.clone()),
    )?;
    let okta_secret = stack.add(
        SecretsmanagerSecret::new("okta_api_token", format!("{}-okta-api-token", s.name_prefix))
            .description("Okta API token for user provisioning. Set the value outside Terraform.")
            .recovery_window_in_days(s.secret_recovery_window_days)
            .tags(platform_tags.clone()),
    )?;
    let documents = stack.add(
        S3Bucket::new("documents", Expr::lit(format!("{}-documents-", s.name_prefix)) + account.account_id())
            .tags(platform_tags.clone()),
    )?;
    stack.add(
        S3BucketPublicAccessBlock::new("documents", documents.id())
            .block_public_acls(true)
            .block_public_policy(true)
            .ignore_public_acls(true)
            .restrict_public_buckets(true),
    )?;
    stack.add(S3BucketVersioning::new(
        "documents",
        documents.id(),
        VersioningConfiguration { status: "Enabled".into() },
    ))?;
    stack.add(S3BucketServerSideEncryptionConfiguration::new(
        "documents",
        documents.id(),
        SseRule {
            apply_server_side_encryption_by_default: SseDefault {
                sse_algorithm: "AES256".into(),
                kms_master_key_id: None,
            },
            bucket_key_enabled: true,
        },
    ))?;

    // The HTTP API, its stage and access logs.
    let methods: Vec<&str> = [Method::Get, Method::Post, Method::Put, Method::Delete]
        .iter()
        .map(|m| m.as_str())
        .chain(["OPTIONS"])
        .collect();
    let api = stack.add(
        Apigatewayv2Api::new("main", format!("{}-api", s.name_prefix), "HTTP")
            .description("STS Career Platform API")
            .cors_configuration(Cors {
                allow_origins: s.cors_origins.clone().into(),
                allow_methods: methods.into(),
                allow_headers: ["authorization", "content-type"].into(),
                max_age: 3600,
            })
            .tags(platform_tags.clone()),
    )?;
    let access_logs = stack.add(
        CloudwatchLogGroup::new("api_access", format!("/aws/apigateway/{}-api", s.name_prefix))
            .retention_in_days(s.log_retention_days)
            .tags(platform_tags.clone()),
    )?;
    stack.add(
        Apigatewayv2Stage::new("default", api.id(), "$default")
            .auto_deploy(true)
            .access_log_settings(AccessLogSettings {
                destination_arn: access_logs.arn(),
                format: ACCESS_LOG_FORMAT.to_owned(),
            })
            .default_route_settings(RouteSettings {
                throttling_burst_limit: s.throttling_burst_limit,
                throttling_rate_limit: s.throttling_rate_limit,
                detailed_metrics_enabled: false,
            })
            .tags(platform_tags.clone()),
    )?;

    // The Lambda authorizer: a function like any other (role, logs, alarms), plus its invoke permission.
    let authorizer_spec = FunctionSpec {
        function: route_registry::AUTHORIZER,
        memory_mb: 128,
        timeout_s: 10,
        uses: Uses::default(),
        env: vec![
            ("OKTA_ISSUER", s.okta_issuer.to_owned()),
            ("OKTA_AUDIENCE", s.okta_audience.to_owned()),
            ("OKTA_JWKS_URL", format!("{}/v1/keys", s.okta_issuer)),
        ],
    };
    let secrets = |u: SecretUse| match u {
        SecretUse::Supabase => supabase_secret.clone(),
        SecretUse::OktaApiToken => okta_secret.clone(),
    };
    let authorizer_fn = add_function(&mut stack, s, &alarm_topic, &secrets, &authorizer_spec, &[])?;
    let authorizer = stack.add(
        Apigatewayv2Authorizer::new("okta", api.id(), "REQUEST", format!("{}-okta", s.name_prefix))
            .authorizer_uri(authorizer_fn.lambda.invoke_arn())
            .identity_sources(["$request.header.Authorization"])
            .authorizer_payload_format_version("2.0")
            .enable_simple_responses(true)
            .authorizer_result_ttl_in_seconds(s.authorizer_cache_ttl_s),
    )?;
    stack.add(
        LambdaPermission::new(
            "platform_authorizer_api",
            "AllowApiGatewayAuthorizer",
            "lambda:InvokeFunction",
            authorizer_fn.lambda.function_name(),
            "apigateway.amazonaws.com",
        )
        .source_arn(api.execution_arn() + "/authorizers/" + authorizer.id()),
    )?;

    let platform = Platform {
        settings: s.clone(),
        api: api.clone(),
        authorizer,
        alarm_topic: alarm_topic.clone(),
        supabase_secret,
        okta_secret,
        emulator: matches!(target, Target::Emulator { .. }),
    };
    for module in modules::all(s) {
        add_module(&mut stack, &platform, &module)?;
    }

    stack.output("api_endpoint", "The HTTP API's base URL.", api.api_endpoint())?;
    stack.output("alarm_topic_arn", "Subscribe on-call to this SNS topic.", alarm_topic.arn())?;
    stack.output("documents_bucket", "The private documents bucket.", documents.bucket())?;
    Ok(stack)
}
