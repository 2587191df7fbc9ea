//! Typed AWS resources and data sources of the `hashicorp/aws` provider (5.x), limited to what this platform uses.
//!
//! Each type takes its required arguments in `new` (a missing one is a compile error) and its optional ones as
//! chained setters; typed references live on [`Ref`] (`Ref<LambdaFunction>::arn()`). Argument names are the
//! provider's, so the generated JSON reads like the provider documentation. This module knows nothing about
//! the platform's stacks, and it never calls AWS.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Serialize;

use crate::stack::{Block, DataSource, Ref, Resource};
use crate::{Expr, ExprList};

/// Resource tags (sorted, so output is stable).
pub type Tags = BTreeMap<String, String>;

/// `lifecycle { … }`, the parts this platform uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Lifecycle {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub precondition: Vec<Condition>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// Refuse any plan that would destroy the resource (data that must outlive a mistaken `destroy`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
}

/// A custom condition: plan fails with `error_message` when `condition` is false.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub condition: Expr,
    pub error_message: String,
}

macro_rules! block {
    (
        $kind:ident
        $(#[$doc:meta])*
        $ty:ident = $tf:literal {
            required { $($req:ident : $rty:ty),* $(,)? }
            optional { $($(#[$odoc:meta])* $opt:ident : $oty:ty),* $(,)? }
            attrs { $($attr:ident),* $(,)? }
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct $ty {
            #[serde(skip)]
            local_name: String,
            #[serde(rename = "//", skip_serializing_if = "Option::is_none")]
            comment: Option<serde_json::Value>,
            $($req: $rty,)*
            $(#[serde(skip_serializing_if = "Option::is_none")] $opt: Option<$oty>,)*
            #[serde(skip_serializing_if = "Vec::is_empty")]
            depends_on: Vec<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            lifecycle: Option<Lifecycle>,
        }

        impl $ty {
            /// A block with the given local name and its required arguments.
            #[allow(clippy::too_many_arguments, reason = "required arguments mirror the provider schema")]
            pub fn new(local_name: impl Into<String>, $($req: impl Into<$rty>),*) -> Self {
                $ty {
                    local_name: local_name.into(),
                    comment: None,
                    $($req: $req.into(),)*
                    $($opt: None,)*
                    depends_on: Vec::new(),
                    lifecycle: None,
                }
            }

            $(
                $(#[$odoc])*
                pub fn $opt(mut self, value: impl Into<$oty>) -> Self {
                    self.$opt = Some(value.into());
                    self
                }
            )*

            /// A `"//"` comment property, which Terraform ignores: a note for reviewers, or a JSON value that
            /// tools read back (Terraform's JSON syntax ignores a `"//"` property whatever its value).
            pub fn comment(mut self, value: impl Into<serde_json::Value>) -> Self {
                self.comment = Some(value.into());
                self
            }

            /// Adds an explicit dependency, rendered as a bare address in `depends_on`.
            pub fn depends_on<T>(mut self, on: &Ref<T>) -> Self {
                self.depends_on.push(on.address().to_owned());
                self
            }

            /// Sets the `lifecycle` block.
            pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
                self.lifecycle = Some(lifecycle);
                self
            }

            /// Sets the `lifecycle` block when there is one.
            pub fn lifecycle_opt(mut self, lifecycle: Option<Lifecycle>) -> Self {
                if lifecycle.is_some() {
                    self.lifecycle = lifecycle;
                }
                self
            }
        }

        impl Block for $ty {
            const TYPE: &'static str = $tf;
            fn name(&self) -> &str {
                &self.local_name
            }
        }

        impl $kind for $ty {}

        impl Ref<$ty> {
            $(
                #[doc = concat!("`${", $tf, ".<name>.", stringify!($attr), "}`")]
                pub fn $attr(&self) -> Expr {
                    self.attr(stringify!($attr))
                }
            )*
        }
    };
}

// ---------------------------------------------------------------- Lambda

/// `environment { variables = { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LambdaEnvironment {
    pub variables: IndexMap<String, Expr>,
}

block! { Resource
    /// `aws_lambda_function`.
    LambdaFunction = "aws_lambda_function" {
        required { function_name: Expr, role: Expr }
        optional {
            description: Expr,
            runtime: Expr,
            handler: Expr,
            architectures: ExprList,
            memory_size: u32,
            timeout: u32,
            filename: Expr,
            source_code_hash: Expr,
            layers: ExprList,
            environment: LambdaEnvironment,
            reserved_concurrent_executions: u32,
            tracing_config: TracingConfig,
            code_signing_config_arn: Expr,
            tags: Tags,
        }
        attrs { arn, invoke_arn, function_name, qualified_arn }
    }
}

/// `tracing_config { mode = … }`: `Active` samples and records traces with X-Ray.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracingConfig {
    pub mode: String,
}

block! { Resource
    /// `aws_lambda_layer_version`: a zip asset plus its content hash.
    LambdaLayerVersion = "aws_lambda_layer_version" {
        required { layer_name: Expr }
        optional {
            description: Expr,
            filename: Expr,
            source_code_hash: Expr,
            compatible_runtimes: ExprList,
            compatible_architectures: ExprList,
        }
        attrs { arn, layer_arn, version }
    }
}

block! { Resource
    /// `aws_lambda_permission`.
    LambdaPermission = "aws_lambda_permission" {
        required { statement_id: Expr, action: Expr, function_name: Expr, principal: Expr }
        optional { source_arn: Expr, source_account: Expr }
        attrs { id }
    }
}

// ---------------------------------------------------------------- IAM

block! { Resource
    /// `aws_iam_role`; `assume_role_policy` is usually `PolicyDocument::assume_role(..).to_expr()?`.
    IamRole = "aws_iam_role" {
        required { name: Expr, assume_role_policy: Expr }
        optional { description: Expr, max_session_duration: u32, tags: Tags }
        attrs { arn, id, name }
    }
}

block! { Resource
    /// `aws_iam_role_policy`: an inline policy owned by one role.
    IamRolePolicy = "aws_iam_role_policy" {
        required { name: Expr, role: Expr, policy: Expr }
        optional {}
        attrs { id }
    }
}

// ---------------------------------------------------------------- CloudWatch

block! { Resource
    /// `aws_cloudwatch_log_group`.
    CloudwatchLogGroup = "aws_cloudwatch_log_group" {
        required { name: Expr }
        optional { retention_in_days: u32, kms_key_id: Expr, tags: Tags }
        attrs { arn, name }
    }
}

/// One metric of a `metric_query`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub metric_name: String,
    pub namespace: String,
    pub period: u32,
    pub stat: String,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub dimensions: IndexMap<String, Expr>,
}

/// A `metric_query` block: either a metric or a metric-math expression over other queries' ids.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricQuery {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub return_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
}

impl MetricQuery {
    /// A metric input (not returned).
    pub fn metric(id: &str, metric: Metric) -> Self {
        MetricQuery { id: id.to_owned(), expression: None, label: None, return_data: false, metric: Some(metric) }
    }

    /// A metric-math expression (returned: this is what the alarm compares).
    pub fn expression(id: &str, expression: &str, label: &str) -> Self {
        MetricQuery {
            id: id.to_owned(),
            expression: Some(expression.to_owned()),
            label: Some(label.to_owned()),
            return_data: true,
            metric: None,
        }
    }
}

block! { Resource
    /// `aws_cloudwatch_metric_alarm`, on a single metric or on `metric_query` metric math.
    CloudwatchMetricAlarm = "aws_cloudwatch_metric_alarm" {
        required { alarm_name: Expr, comparison_operator: Expr, evaluation_periods: u32 }
        optional {
            alarm_description: Expr,
            threshold: f64,
            metric_name: Expr,
            namespace: Expr,
            period: u32,
            statistic: Expr,
            extended_statistic: Expr,
            dimensions: IndexMap<String, Expr>,
            metric_query: Vec<MetricQuery>,
            datapoints_to_alarm: u32,
            treat_missing_data: Expr,
            alarm_actions: ExprList,
            ok_actions: ExprList,
            tags: Tags,
        }
        attrs { arn, id }
    }
}

block! { Resource
    /// `aws_cloudwatch_query_definition`: a saved CloudWatch Logs Insights query.
    CloudwatchQueryDefinition = "aws_cloudwatch_query_definition" {
        required { name: Expr, query_string: Expr }
        optional { log_group_names: ExprList }
        attrs { query_definition_id }
    }
}

// ---------------------------------------------------------------- SNS and Secrets Manager

block! { Resource
    /// `aws_sns_topic`.
    SnsTopic = "aws_sns_topic" {
        required { name: Expr }
        optional { kms_master_key_id: Expr, tags: Tags }
        attrs { arn, id }
    }
}

block! { Resource
    /// `aws_sns_topic_subscription`: who hears of an alarm (`email` subscriptions confirm by e-mail).
    SnsTopicSubscription = "aws_sns_topic_subscription" {
        required { topic_arn: Expr, protocol: Expr, endpoint: Expr }
        optional {}
        attrs { arn, id }
    }
}

block! { Resource
    /// `aws_cloudwatch_dashboard`; the body is a JSON document (see [`Expr::json_document`]).
    CloudwatchDashboard = "aws_cloudwatch_dashboard" {
        required { dashboard_name: Expr, dashboard_body: Expr }
        optional {}
        attrs { dashboard_arn }
    }
}

block! { Resource
    /// `aws_secretsmanager_secret`: metadata only. A secret *value* never belongs in Terraform state.
    SecretsmanagerSecret = "aws_secretsmanager_secret" {
        required { name: Expr }
        optional { description: Expr, recovery_window_in_days: u32, kms_key_id: Expr, tags: Tags }
        attrs { arn, id, name }
    }
}

block! { Resource
    /// `aws_secretsmanager_secret_policy`: the secret's resource policy.
    SecretsmanagerSecretPolicy = "aws_secretsmanager_secret_policy" {
        required { secret_arn: Expr, policy: Expr }
        optional { block_public_policy: bool }
        attrs { id }
    }
}

block! { Resource
    /// `aws_sns_topic_policy`: who may publish to the topic.
    SnsTopicPolicy = "aws_sns_topic_policy" {
        required { arn: Expr, policy: Expr }
        optional {}
        attrs { id }
    }
}

// ---------------------------------------------------------------- KMS

block! { Resource
    /// `aws_kms_key`: a customer-managed key.
    KmsKey = "aws_kms_key" {
        required { description: Expr }
        optional { enable_key_rotation: bool, deletion_window_in_days: u32, policy: Expr, tags: Tags }
        attrs { arn, key_id }
    }
}

block! { Resource
    /// `aws_kms_alias`: a readable name for a key.
    KmsAlias = "aws_kms_alias" {
        required { name: Expr, target_key_id: Expr }
        optional {}
        attrs { arn }
    }
}

// ---------------------------------------------------------------- Lambda code signing

block! { Resource
    /// `aws_signer_signing_profile`: the profile Lambda packages are signed with.
    SignerSigningProfile = "aws_signer_signing_profile" {
        required { platform_id: Expr }
        optional { name: Expr, tags: Tags }
        attrs { arn, version_arn, name }
    }
}

/// `allowed_publishers { signing_profile_version_arns = [...] }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllowedPublishers {
    pub signing_profile_version_arns: ExprList,
}

/// `policies { untrusted_artifact_on_deployment = "Warn" | "Enforce" }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeSigningPolicies {
    pub untrusted_artifact_on_deployment: String,
}

block! { Resource
    /// `aws_lambda_code_signing_config`.
    LambdaCodeSigningConfig = "aws_lambda_code_signing_config" {
        required { allowed_publishers: AllowedPublishers }
        optional { description: Expr, policies: CodeSigningPolicies }
        attrs { arn, id }
    }
}

// ---------------------------------------------------------------- API Gateway v2 (HTTP APIs)

/// `cors_configuration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cors {
    pub allow_origins: ExprList,
    pub allow_methods: ExprList,
    pub allow_headers: ExprList,
    pub max_age: u32,
}

/// `access_log_settings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLogSettings {
    pub destination_arn: Expr,
    pub format: String,
}

/// `default_route_settings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteSettings {
    pub throttling_burst_limit: u32,
    pub throttling_rate_limit: f64,
    pub detailed_metrics_enabled: bool,
}

block! { Resource
    /// `aws_apigatewayv2_api`.
    Apigatewayv2Api = "aws_apigatewayv2_api" {
        required { name: Expr, protocol_type: Expr }
        optional { description: Expr, cors_configuration: Cors, tags: Tags }
        attrs { id, api_endpoint, execution_arn, arn }
    }
}

block! { Resource
    /// `aws_apigatewayv2_integration`.
    Apigatewayv2Integration = "aws_apigatewayv2_integration" {
        required { api_id: Expr, integration_type: Expr }
        optional {
            description: Expr,
            integration_uri: Expr,
            integration_method: Expr,
            payload_format_version: Expr,
            timeout_milliseconds: u32,
        }
        attrs { id }
    }
}

block! { Resource
    /// `aws_apigatewayv2_route`.
    Apigatewayv2Route = "aws_apigatewayv2_route" {
        required { api_id: Expr, route_key: Expr }
        optional { target: Expr, authorization_type: Expr, authorizer_id: Expr, operation_name: Expr }
        attrs { id }
    }
}

block! { Resource
    /// `aws_apigatewayv2_authorizer`.
    Apigatewayv2Authorizer = "aws_apigatewayv2_authorizer" {
        required { api_id: Expr, authorizer_type: Expr, name: Expr }
        optional {
            authorizer_uri: Expr,
            identity_sources: ExprList,
            authorizer_payload_format_version: Expr,
            enable_simple_responses: bool,
            authorizer_result_ttl_in_seconds: u32,
        }
        attrs { id }
    }
}

block! { Resource
    /// `aws_apigatewayv2_stage`.
    Apigatewayv2Stage = "aws_apigatewayv2_stage" {
        required { api_id: Expr, name: Expr }
        optional {
            auto_deploy: bool,
            access_log_settings: AccessLogSettings,
            default_route_settings: RouteSettings,
            tags: Tags,
        }
        attrs { id, arn, invoke_url }
    }
}

// ---------------------------------------------------------------- S3

block! { Resource
    /// `aws_s3_bucket`.
    S3Bucket = "aws_s3_bucket" {
        required { bucket: Expr }
        optional { force_destroy: bool, tags: Tags }
        attrs { id, arn, bucket }
    }
}

block! { Resource
    /// `aws_s3_bucket_public_access_block`.
    S3BucketPublicAccessBlock = "aws_s3_bucket_public_access_block" {
        required { bucket: Expr }
        optional {
            block_public_acls: bool,
            block_public_policy: bool,
            ignore_public_acls: bool,
            restrict_public_buckets: bool,
        }
        attrs { id }
    }
}

/// `versioning_configuration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersioningConfiguration {
    pub status: String,
}

block! { Resource
    /// `aws_s3_bucket_versioning`.
    S3BucketVersioning = "aws_s3_bucket_versioning" {
        required { bucket: Expr, versioning_configuration: VersioningConfiguration }
        optional {}
        attrs { id }
    }
}

/// `apply_server_side_encryption_by_default`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SseDefault {
    pub sse_algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Expr>,
}

/// A `rule` of a server-side encryption configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SseRule {
    pub apply_server_side_encryption_by_default: SseDefault,
    pub bucket_key_enabled: bool,
}

block! { Resource
    /// `aws_s3_bucket_server_side_encryption_configuration`.
    S3BucketServerSideEncryptionConfiguration = "aws_s3_bucket_server_side_encryption_configuration" {
        required { bucket: Expr, rule: SseRule }
        optional {}
        attrs { id }
    }
}

block! { Resource
    /// `aws_s3_bucket_policy`.
    S3BucketPolicy = "aws_s3_bucket_policy" {
        required { bucket: Expr, policy: Expr }
        optional {}
        attrs { id }
    }
}

/// `rule { object_ownership = … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnershipRule {
    pub object_ownership: String,
}

block! { Resource
    /// `aws_s3_bucket_ownership_controls`.
    S3BucketOwnershipControls = "aws_s3_bucket_ownership_controls" {
        required { bucket: Expr, rule: OwnershipRule }
        optional {}
        attrs { id }
    }
}

/// One lifecycle rule; the fields a rule of this platform sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LifecycleRule {
    pub id: String,
    pub status: String,
    /// `{}` applies the rule to every object.
    pub filter: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Days>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentDays>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload: Option<AbortDays>,
}

/// `expiration { days = … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Days {
    pub days: u32,
}

/// `noncurrent_version_expiration { noncurrent_days = … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoncurrentDays {
    pub noncurrent_days: u32,
}

/// `abort_incomplete_multipart_upload { days_after_initiation = … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbortDays {
    pub days_after_initiation: u32,
}

block! { Resource
    /// `aws_s3_bucket_lifecycle_configuration`.
    S3BucketLifecycleConfiguration = "aws_s3_bucket_lifecycle_configuration" {
        required { bucket: Expr, rule: Vec<LifecycleRule> }
        optional {}
        attrs { id }
    }
}

block! { Resource
    /// `aws_s3_bucket_logging`: server access logs into another bucket.
    S3BucketLogging = "aws_s3_bucket_logging" {
        required { bucket: Expr, target_bucket: Expr, target_prefix: Expr }
        optional {}
        attrs { id }
    }
}

// ---------------------------------------------------------------- Data sources

block! { DataSource
    /// `data "aws_caller_identity"`: the account the provider runs as.
    CallerIdentity = "aws_caller_identity" {
        required {}
        optional {}
        attrs { account_id, arn }
    }
}

block! { DataSource
    /// `data "aws_partition"`: `aws`, `aws-cn` or `aws-us-gov`, for building ARNs.
    Partition = "aws_partition" {
        required {}
        optional {}
        attrs { partition }
    }
}

// ---------------------------------------------------------------- Provider

/// `default_tags { tags = { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DefaultTags {
    pub tags: Tags,
}

/// The `aws` provider block. The `skip_*`, credential and `endpoints` settings exist for local emulators.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AwsProvider {
    pub region: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_tags: Option<DefaultTags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_credentials_validation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_requesting_account_id: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_metadata_api_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_use_path_style: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// The only accounts this provider may act in: a profile set to another account fails before any change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_account_ids: Vec<String>,
    /// One `endpoints` block mapping service names to URLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<BTreeMap<String, String>>,
}
