//! The platform stack of one environment: the HTTP API with CORS, its `$default` stage and access logs, the Lambda
//! authorizer, the environment's key, the alarm topic and its subscribers, the secrets (metadata and resource
//! policies, never values), the documents bucket and its access-log bucket, the dashboard, and every module of the
//! catalog.

use indexmap::IndexMap;
use infra_dsl::aws::{
    AbortDays, AccessLogSettings, AllowedPublishers, Apigatewayv2Api, Apigatewayv2Authorizer, Apigatewayv2Stage,
    AwsProvider, CallerIdentity, CloudwatchLogGroup, CloudwatchMetricAlarm, CodeSigningPolicies, Condition, Cors, Days,
    DefaultTags, KmsAlias, KmsKey, LambdaCodeSigningConfig, LambdaPermission, Lifecycle, LifecycleRule, Metric,
    MetricQuery, NoncurrentDays, OwnershipRule, Partition, RouteSettings, S3Bucket, S3BucketLifecycleConfiguration,
    S3BucketLogging, S3BucketOwnershipControls, S3BucketPolicy, S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfiguration, S3BucketVersioning, SecretsmanagerSecret, SecretsmanagerSecretPolicy,
    SignerSigningProfile, SnsTopic, SnsTopicPolicy, SnsTopicSubscription, SseDefault, SseRule, Tags,
    VersioningConfiguration,
};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Backend, DslError, Expr, Ref, Stack};
use route_registry::{Method, Use};

use crate::env::Settings;
use crate::module::{add_function, add_module, local_name, DeployedModule, Platform};
use crate::{dashboard, Issuer};

/// The `hashicorp/aws` versions the output is written for: 5.x from 5.100 on.
pub const AWS_PROVIDER_VERSION: &str = ">= 5.100, < 6.0";
/// `use_lockfile` in the S3 backend is stable from Terraform 1.11.
pub const TERRAFORM_VERSION: &str = ">= 1.11";

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

/// Where the stack will be applied: real AWS, or a local emulator (for the deploy rehearsal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An AWS account, with the environment's S3 state backend.
    Aws,
    /// An AWS API emulator at `endpoint`: test credentials, and state in the emulator's S3 through the same backend
    /// (or in a local file when `state` is `Local`).
    Emulator { endpoint: String, state: EmulatorState },
}

/// Where an emulator stack keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmulatorState {
    /// `terraform.tfstate` next to the stack.
    Local,
    /// The environment's S3 backend, in the emulator (after `cargo xtask bootstrap` made the bucket there).
    S3,
}

/// The emulator's AWS services the stack talks to.
pub const EMULATED_SERVICES: [&str; 11] =
    ["apigatewayv2", "cloudwatch", "iam", "kms", "lambda", "logs", "s3", "secretsmanager", "signer", "sns", "sts"];

/// The provider block, for AWS or an emulator, with the environment's tags and allowed account.
pub fn provider(s: &Settings, target: &Target) -> AwsProvider {
    let default_tags: Tags = [("Environment", s.env.as_str()), ("Project", s.project), ("ManagedBy", "terraform")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut provider = AwsProvider {
        region: s.region.into(),
        default_tags: Some(DefaultTags { tags: default_tags }),
        allowed_account_ids: vec![s.account_id.to_owned()],
        ..Default::default()
    };
    if let Target::Emulator { endpoint, .. } = target {
        provider.access_key = Some("test".into());
        provider.secret_key = Some("test".into());
        provider.skip_credentials_validation = Some(true);
        provider.skip_metadata_api_check = Some(true);
        provider.s3_use_path_style = Some(true);
        // Fail fast on an API the emulator lacks instead of retrying for minutes.
        provider.max_retries = Some(1);
        provider.endpoints = vec![EMULATED_SERVICES.iter().map(|svc| ((*svc).to_owned(), endpoint.clone())).collect()];
    }
    provider
}

/// The state backend of an environment's platform stack.
pub fn backend(s: &Settings, target: &Target, key: &str) -> Backend {
    match target {
        Target::Emulator { state: EmulatorState::Local, .. } => Backend::Local { path: "terraform.tfstate".into() },
        Target::Emulator { endpoint, state: EmulatorState::S3 } => Backend::S3 {
            bucket: s.backend.bucket.clone(),
            key: key.to_owned(),
            region: s.backend.region.to_owned(),
            use_lockfile: s.backend.use_lockfile,
            emulator: Some(endpoint.clone()),
        },
        Target::Aws => Backend::S3 {
            bucket: s.backend.bucket.clone(),
            key: key.to_owned(),
            region: s.backend.region.to_owned(),
            use_lockfile: s.backend.use_lockfile,
            emulator: None,
        },
    }
}

/// Keeps prd's data through a mistaken `terraform destroy`: the plan fails instead.
fn keep(s: &Settings) -> Option<Lifecycle> {
    (s.env == crate::Env::Prd).then(|| Lifecycle { prevent_destroy: true, ..Default::default() })
}

/// Builds the whole platform for one environment. `guard`, when given, is put on the API so that `terraform plan`
/// stops with its message (an example rendering).
pub fn build(
    settings: &Settings,
    target: &Target,
    header: &str,
    issuer: &Issuer,
    guard: Option<Condition>,
    catalog: &[route_registry::Module],
) -> Result<Stack, DslError> {
    let s = settings;
    let mut stack = Stack::new(header, TERRAFORM_VERSION);
    stack.require_provider("aws", "hashicorp/aws", AWS_PROVIDER_VERSION);
    stack.backend(backend(s, target, s.backend.key));
    stack.provider("aws", &provider(s, target))?;

    let platform_tags: Tags = [("Module".to_owned(), "platform".to_owned())].into_iter().collect();
    let account = stack.data(CallerIdentity::new("current"))?;
    let partition = stack.data(Partition::new("current"))?;
    let arn = |service: &str, resource: &str| {
        Expr::lit("arn:")
            + partition.partition()
            + format!(":{service}:{}:", s.region)
            + account.account_id()
            + format!(":{resource}")
    };
    let root = Expr::lit("arn:") + partition.partition() + ":iam::" + account.account_id() + ":root";

    // The environment's key: secrets, the alarm topic, the documents bucket and the log groups are encrypted with
    // it. The account's IAM decides who uses it (the first statement delegates to IAM, as AWS's default policy
    // does); the services that use it on our behalf are named, each limited to this account.
    let key_policy = PolicyDocument::new(vec![
        Statement::allow(&["kms:*"])
            .sid("AccountAdministersThroughIam")
            .principal(Principal::Aws(root.clone()))
            .resources(["*"]),
        Statement::allow(&["kms:Decrypt", "kms:GenerateDataKey*"])
            .sid("CloudWatchAlarmsPublishToTheTopic")
            .principal(Principal::service("cloudwatch.amazonaws.com"))
            .resources(["*"])
            .condition("StringEquals", "aws:SourceAccount", [account.account_id()]),
        Statement::allow(&["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"])
            .sid("CloudWatchLogsEncryptsTheLogGroups")
            .principal(Principal::service(format!("logs.{}.amazonaws.com", s.region)))
            .resources(["*"])
            .condition("ArnLike", "kms:EncryptionContext:aws:logs:arn", [arn("logs", "log-group:*")]),
    ]);
    let key = stack.add(
        KmsKey::new("platform", format!("{}: secrets, alarm topic, documents and logs", s.name_prefix))
            .enable_key_rotation(true)
            .deletion_window_in_days(if s.env == crate::Env::Prd { 30u32 } else { 7 })
            .policy(key_policy.to_expr()?)
            .tags(platform_tags.clone())
            .lifecycle_opt(keep(s)),
    )?;
    stack.add(KmsAlias::new("platform", format!("alias/{}-platform", s.name_prefix), key.key_id()))?;

    // Alarm topic: encrypted with the key CloudWatch may use; only this account's alarms may publish, over TLS.
    let alarm_topic = stack.add(
        SnsTopic::new("alarms", format!("{}-alarms", s.name_prefix))
            .kms_master_key_id(key.arn())
            .tags(platform_tags.clone()),
    )?;
    stack.add(SnsTopicPolicy::new(
        "alarms",
        alarm_topic.arn(),
        PolicyDocument::new(vec![
            Statement::allow(&["sns:Publish"])
                .sid("ThisAccountsAlarms")
                .principal(Principal::service("cloudwatch.amazonaws.com"))
                .resources([alarm_topic.arn()])
                .condition("StringEquals", "aws:SourceAccount", [account.account_id()])
                .condition("ArnLike", "aws:SourceArn", [arn("cloudwatch", "alarm:*")]),
            Statement::deny(&["sns:Publish"])
                .sid("TlsOnly")
                .principal(Principal::Aws(Expr::lit("*")))
                .resources([alarm_topic.arn()])
                .condition("Bool", "aws:SecureTransport", ["false"]),
        ])
        .to_expr()?,
    ))?;
    for (i, email) in s.alarm_emails.iter().enumerate() {
        stack.add(SnsTopicSubscription::new(format!("alarms_email_{i}"), alarm_topic.arn(), "email", *email))?;
    }

    // Secrets: metadata only, encrypted with the key; values are set outside Terraform.
    let secret = |stack: &mut Stack, local: &str, suffix: &str, description: &str| {
        stack.add(
            SecretsmanagerSecret::new(local, format!("{}-{suffix}", s.name_prefix))
                .description(description)
                .kms_key_id(key.arn())
                .recovery_window_in_days(s.secret_recovery_window_days)
                .tags(platform_tags.clone())
                .lifecycle_opt(keep(s)),
        )
    };
    let okta_secret = secret(
        &mut stack,
        "okta_api_token",
        "okta-api-token",
        "Okta API token for user provisioning ({\"api_token\": …} or the bare token). Set the value outside Terraform.",
    )?;

    // The documents bucket (private, versioned, encrypted with the key, TLS only, owner-enforced, old versions and
    // broken uploads expire) and the bucket its access logs go to.
    let documents = stack.add(
        S3Bucket::new("documents", Expr::lit(format!("{}-documents-", s.name_prefix)) + account.account_id())
            .tags(platform_tags.clone())
            .lifecycle_opt(keep(s)),
    )?;
    let access_logs = stack.add(
        S3Bucket::new("access_logs", Expr::lit(format!("{}-access-logs-", s.name_prefix)) + account.account_id())
            .tags(platform_tags.clone()),
    )?;
    let emulator = matches!(target, Target::Emulator { .. });
    let mut log_delivery = None;
    for (local, bucket, kms) in [("documents", &documents, true), ("access_logs", &access_logs, false)] {
        stack.add(
            S3BucketPublicAccessBlock::new(local, bucket.id())
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true),
        )?;
        stack.add(S3BucketVersioning::new(local, bucket.id(), VersioningConfiguration { status: "Enabled".into() }))?;
        stack.add(S3BucketOwnershipControls::new(
            local,
            bucket.id(),
            OwnershipRule { object_ownership: "BucketOwnerEnforced".into() },
        ))?;
        // Server access logs can only be delivered to a bucket encrypted with S3-managed keys.
        let sse = if kms {
            SseDefault { sse_algorithm: "aws:kms".into(), kms_master_key_id: Some(key.arn()) }
        } else {
            SseDefault { sse_algorithm: "AES256".into(), kms_master_key_id: None }
        };
        stack.add(S3BucketServerSideEncryptionConfiguration::new(
            local,
            bucket.id(),
            SseRule { apply_server_side_encryption_by_default: sse, bucket_key_enabled: true },
        ))?;
        let mut statements = vec![Statement::deny(&["s3:*"])
            .sid("TlsOnly")
            .principal(Principal::Aws(Expr::lit("*")))
            .resources([bucket.arn(), bucket.arn() + "/*"])
            .condition("Bool", "aws:SecureTransport", ["false"])];
        if !kms {
            statements.push(
                Statement::allow(&["s3:PutObject"])
                    .sid("ServerAccessLogDelivery")
                    .principal(Principal::service("logging.s3.amazonaws.com"))
                    .resources([bucket.arn() + "/*"])
                    .condition("ArnLike", "aws:SourceArn", [documents.arn()])
                    .condition("StringEquals", "aws:SourceAccount", [account.account_id()]),
            );
        }
        let policy = stack.add(S3BucketPolicy::new(local, bucket.id(), PolicyDocument::new(statements).to_expr()?))?;
        if !kms {
            log_delivery = Some(policy);
        }
        let rules = if kms {
            vec![LifecycleRule {
                id: "expire-old-versions".into(),
                status: "Enabled".into(),
                filter: serde_json::json!({}),
                expiration: None,
                // An erased document must not survive for long as an old version.
                noncurrent_version_expiration: Some(NoncurrentDays { noncurrent_days: 30 }),
                abort_incomplete_multipart_upload: Some(AbortDays { days_after_initiation: 7 }),
            }]
        } else {
            vec![LifecycleRule {
                id: "expire-access-logs".into(),
                status: "Enabled".into(),
                filter: serde_json::json!({}),
                expiration: Some(Days { days: s.log_retention_days }),
                noncurrent_version_expiration: Some(NoncurrentDays { noncurrent_days: 7 }),
                abort_incomplete_multipart_upload: Some(AbortDays { days_after_initiation: 7 }),
            }]
        };
        stack.add(S3BucketLifecycleConfiguration::new(local, bucket.id(), rules))?;
    }
    // Logging starts once the log bucket admits the logging service (S3 checks that grant when logging is set).
    if !emulator {
        let mut logging = S3BucketLogging::new("documents", documents.id(), access_logs.id(), "documents/");
        if let Some(policy) = &log_delivery {
            logging = logging.depends_on(policy);
        }
        stack.add(logging)?;
    }

    // Lambda code signing: the profile packages are signed with, and the configuration every function carries.
    let (code_signing, signing_profile) = if emulator {
        (None, None)
    } else {
        let signing = stack.add(
            SignerSigningProfile::new("lambda", "AWSLambda-SHA384-ECDSA")
                .name(format!("{}_lambda", s.name_prefix.replace('-', "_")))
                .tags(platform_tags.clone()),
        )?;
        let config = stack.add(
            LambdaCodeSigningConfig::new(
                "lambda",
                AllowedPublishers { signing_profile_version_arns: vec![signing.version_arn()].into() },
            )
            .description(format!("{}: packages signed by the stack's profile", s.name_prefix))
            .policies(CodeSigningPolicies {
                untrusted_artifact_on_deployment: if s.enforce_code_signing { "Enforce" } else { "Warn" }.into(),
            }),
        )?;
        (Some(config.arn()), Some(signing.name()))
    };

    // The HTTP API, its stage and access logs.
    if guard.is_some() {
        let names: Vec<&str> = s.placeholders().iter().map(|(n, _)| *n).collect();
        stack.local(PLACEHOLDERS_LOCAL, serde_json::json!(names))?;
    }
    let methods: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).chain(["OPTIONS"]).collect();
    let api = stack.add(
        Apigatewayv2Api::new("main", format!("{}-api", s.name_prefix), "HTTP")
            .description("STS Career Platform API")
            .cors_configuration(Cors {
                allow_origins: s.cors_origins.clone().into(),
                allow_methods: methods.into(),
                allow_headers: ["authorization", "content-type"].into(),
                max_age: 3600,
            })
            .tags(platform_tags.clone())
            .lifecycle_opt(guard.map(|g| Lifecycle { precondition: vec![g], ..Default::default() })),
    )?;
    let api_logs = stack.add(
        CloudwatchLogGroup::new("api_access", format!("/aws/apigateway/{}-api", s.name_prefix))
            .retention_in_days(s.log_retention_days)
            .kms_key_id(key.arn())
            .tags(platform_tags.clone()),
    )?;
    stack.add(
        Apigatewayv2Stage::new("default", api.id(), "$default")
            .auto_deploy(true)
            .access_log_settings(AccessLogSettings {
                destination_arn: api_logs.arn(),
                format: ACCESS_LOG_FORMAT.to_owned(),
            })
            .default_route_settings(RouteSettings {
                throttling_burst_limit: s.throttling_burst_limit,
                throttling_rate_limit: s.throttling_rate_limit,
                detailed_metrics_enabled: false,
            })
            .tags(platform_tags.clone()),
    )?;

    let platform = Platform {
        settings: s.clone(),
        api: api.clone(),
        alarm_topic: alarm_topic.clone(),
        okta_secret: okta_secret.clone(),
        key: key.clone(),
        documents: documents.clone(),
        code_signing,
        emulator,
    };

    // The Lambda authorizer: a function like any other (role, logs, alarms), plus its invoke permission.
    let (issuer_url, audience, jwks_url) = match issuer {
        Issuer::Okta => (s.okta_issuer.clone(), s.okta_audience.clone(), format!("{}/v1/keys", s.okta_issuer)),
        Issuer::Development { issuer, jwks_url } => (issuer.clone(), s.okta_audience.clone(), jwks_url.clone()),
    };
    let authorizer_fn = add_function(
        &mut stack,
        &platform,
        route_registry::AUTHORIZER,
        &[("OKTA_ISSUER", issuer_url), ("OKTA_AUDIENCE", audience), ("OKTA_JWKS_URL", jwks_url)],
    )?;
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

    let mut modules: Vec<DeployedModule> = Vec::new();
    for module in catalog {
        modules.push(add_module(&mut stack, &platform, &authorizer, module)?);
    }

    // Secret resource policies: only the roles of functions that declare the secret (and the break-glass role) may
    // read it, whatever IAM elsewhere in the account says.
    let break_glass = Expr::lit("arn:")
        + partition.partition()
        + ":iam::"
        + account.account_id()
        + format!(":role/{}", s.break_glass_role);
    {
        let (local, secret, declared_by) = ("okta_api_token", &okta_secret, Use::Okta);
        let readers: Vec<Expr> = modules
            .iter()
            .flat_map(|m| m.functions.iter())
            .filter(|d| d.function.uses.contains(&declared_by))
            .map(|d| Expr::raw(format!("aws_iam_role.{}.arn", local_name(d.function.binary))))
            .chain([break_glass.clone()])
            .collect();
        stack.add(
            SecretsmanagerSecretPolicy::new(
                local,
                secret.arn(),
                PolicyDocument::new(vec![Statement::deny(&["secretsmanager:GetSecretValue"])
                    .sid("OnlyDeclaredReaders")
                    .principal(Principal::Aws(Expr::lit("*")))
                    .resources(["*"])
                    .condition("StringNotLike", "aws:PrincipalArn", readers)])
                .to_expr()?,
            )
            .block_public_policy(true),
        )?;
    }

    // The API's own alarms: what clients saw (5xx rate with a minimum count, p99 latency).
    let api_alarms = add_api_alarms(&mut stack, &platform, &api)?;
    let mut all_alarms: Vec<Ref<CloudwatchMetricAlarm>> = authorizer_fn.alarms.clone();
    all_alarms.extend(modules.iter().flat_map(|m| m.functions.iter()).flat_map(|d| d.alarms.iter().cloned()));
    all_alarms.extend(api_alarms);
    dashboard::add(&mut stack, s, &api, &authorizer_fn, &modules, &all_alarms)?;

    stack.output("api_endpoint", "The HTTP API's base URL.", api.api_endpoint())?;
    stack.output(
        "alarm_topic_arn",
        "Alarms and recoveries are published here (and e-mailed to alarm_emails).",
        alarm_topic.arn(),
    )?;
    stack.output("documents_bucket", "The private documents bucket.", documents.bucket())?;
    stack.output("platform_key_arn", "The environment's KMS key.", key.arn())?;
    if let Some(profile) = signing_profile {
        stack.output(
            "signing_profile",
            "Sign Lambda packages with this profile (aws signer start-signing-job).",
            profile,
        )?;
    }
    Ok(stack)
}

/// API Gateway's 5xx rate and p99 latency alarms.
fn add_api_alarms(
    stack: &mut Stack,
    platform: &Platform,
    api: &Ref<Apigatewayv2Api>,
) -> Result<Vec<Ref<CloudwatchMetricAlarm>>, DslError> {
    let s = &platform.settings;
    let dims: IndexMap<String, Expr> =
        [("ApiId".to_owned(), api.id()), ("Stage".to_owned(), Expr::lit("$default"))].into_iter().collect();
    let metric = |name: &str| Metric {
        metric_name: name.to_owned(),
        namespace: "AWS/ApiGateway".to_owned(),
        period: 300,
        stat: "Sum".to_owned(),
        dimensions: dims.clone(),
    };
    let tags: Tags = [("Module".to_owned(), "platform".to_owned())].into_iter().collect();
    let min = s.alarm_min_requests;
    let rate = stack.add(
        CloudwatchMetricAlarm::new("api_5xx_rate", format!("{}-api-5xx-rate", s.name_prefix), "GreaterThanThreshold", 1u32)
            .alarm_description(format!(
                "More than 5% of the API's answers were 5xx in 5 minutes (with at least {min} requests), the gateway's own failures included. The access log group /aws/apigateway/{}-api has integrationError and authorizerError per request.",
                s.name_prefix
            ))
            .threshold(5.0)
            .metric_query(vec![
                MetricQuery::metric("errors", metric("5xx")),
                MetricQuery::metric("requests", metric("Count")),
                MetricQuery::expression("rate", &format!("IF(requests >= {min}, 100 * errors / requests, 0)"), "5xx rate (%)"),
            ])
            .treat_missing_data("notBreaching")
            .alarm_actions([platform.alarm_topic.arn()])
            .ok_actions([platform.alarm_topic.arn()])
            .tags(tags.clone()),
    )?;
    // p99 over 2 s: the handlers answer in milliseconds, so this is a slow dependency or throttling.
    let latency = stack.add(
        CloudwatchMetricAlarm::new("api_latency_p99", format!("{}-api-latency-p99", s.name_prefix), "GreaterThanThreshold", 2u32)
            .alarm_description(
                "The API's p99 latency was over 2 s for 10 minutes: a slow dependency or throttling. The dashboard's per-function latency and DependencyErrors say which.".to_owned(),
            )
            .namespace("AWS/ApiGateway")
            .metric_name("Latency")
            .extended_statistic("p99")
            .period(300u32)
            .dimensions(dims)
            .threshold(2000.0)
            .treat_missing_data("notBreaching")
            .alarm_actions([platform.alarm_topic.arn()])
            .ok_actions([platform.alarm_topic.arn()])
            .tags(tags),
    )?;
    Ok(vec![rate, latency])
}

/// The local that lists the settings still holding example values (with the guard only).
const PLACEHOLDERS_LOCAL: &str = "example_placeholders";

/// A precondition that stops `terraform plan` while example values are left (rendered only when asked for an
/// example of stg or prd).
pub fn placeholder_guard(settings: &Settings) -> Option<Condition> {
    let left = settings.placeholders();
    (!left.is_empty()).then(|| Condition {
        // Terraform wants a condition that refers to the configuration: the local listing the settings left.
        condition: Expr::raw(format!("length(local.{PLACEHOLDERS_LOCAL}) == 0")),
        error_message: format!(
            "This is an example rendering of {env}: settings {} still hold example values. Set them in stacks/src/env.rs, then run cargo xtask synth {env}.",
            left.iter().map(|(n, v)| format!("{n} ({v})")).collect::<Vec<_>>().join(", "),
            env = settings.env
        ),
    })
}
