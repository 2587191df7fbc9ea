//! Where a stack is applied: the `aws` provider block for AWS or a local emulator, the state backend, and what the
//! emulator cannot take.

use infra_dsl::aws::provider::{DefaultTags, Endpoints, Provider};
use infra_dsl::Backend;

use crate::env::Settings;

/// The `hashicorp/aws` versions the output is written for: 5.x from 5.100 on.
pub const AWS_PROVIDER_VERSION: &str = ">= 5.100, < 6.0";
/// `use_lockfile` in the S3 backend is stable from Terraform 1.11.
pub const TERRAFORM_VERSION: &str = ">= 1.11";

/// Where the stack will be applied: real AWS, or a local emulator (for the deploy rehearsal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An AWS account, with the environment's S3 state backend.
    Aws,
    /// An AWS API emulator at `endpoint`: test credentials, and state in the emulator's S3 through the same backend
    /// (or in a local file when `state` is `Local`).
    Emulator { endpoint: String, state: EmulatorState },
}

impl Target {
    pub fn is_emulator(&self) -> bool {
        matches!(self, Target::Emulator { .. })
    }
}

/// Where an emulator stack keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmulatorState {
    /// `terraform.tfstate` next to the stack.
    Local,
    /// The environment's S3 backend, in the emulator (after `cargo xtask bootstrap` made the bucket there).
    S3,
}

/// The emulator's AWS services the stack talks to, each pointed at `endpoint`.
pub fn emulated_services(endpoint: &str) -> Endpoints {
    Endpoints::new()
        .apigatewayv2(endpoint)
        .cloudwatch(endpoint)
        .codedeploy(endpoint)
        .iam(endpoint)
        .kms(endpoint)
        .lambda(endpoint)
        .logs(endpoint)
        .s3(endpoint)
        .scheduler(endpoint)
        .secretsmanager(endpoint)
        .signer(endpoint)
        .sns(endpoint)
        .sqs(endpoint)
        .sts(endpoint)
}

/// Resource types left out of emulator stacks, with the reason; the deploy rehearsal reports them as not rehearsed.
pub const EMULATOR_OMITS: &[(&str, &str)] = &[
    (
        "the dead-letter queues' redrive_allow_policy (only their own queue may redrive into them)",
        "moto 5.2.1 does not keep RedriveAllowPolicy, so the provider waits for it until it times out",
    ),
    (
        "the queues' redrive_policy in the no-drift check (lifecycle ignore_changes; the verify step reads it)",
        "moto 5.2.1 gives the policy back re-serialised with spaces, so every plan would normalise it again",
    ),
    (
        "the functions' dead_letter_config (asynchronous invocations that fail go to the function's dead-letter queue)",
        "moto 5.2.1 does not keep a function's DeadLetterConfig, so every plan after apply would add it again",
    ),
    ("aws_cloudwatch_query_definition", "moto 5.2.1 does not implement logs:PutQueryDefinition"),
    (
        "the queues' mappings' function_name in the no-drift check (lifecycle ignore_changes; the verify step reads it)",
        "moto 5.2.1 resolves the alias a mapping targets to the version it points to and gives that back, so every \
         plan would point the mapping at the alias again",
    ),
    (
        "aws_codedeploy_app and aws_codedeploy_deployment_group (and the roles the groups release with)",
        "moto 5.2.1 answers CodeDeploy's GetApplication with createTime as a string where CodeDeploy's model has a \
         timestamp number, so the provider cannot read back the application it created",
    ),
    (
        "aws_lambda_code_signing_config and aws_signer_signing_profile (and the functions' code_signing_config_arn)",
        "moto 5.2.1 does not implement lambda:CreateCodeSigningConfig",
    ),
    (
        "aws_s3_bucket_logging",
        "moto 5.2.1 recognizes the log-delivery grant only as a one-string Resource, not the list the policy has",
    ),
];

/// The provider block, for AWS or an emulator, with the environment's tags and allowed account.
pub fn provider(settings: &Settings, target: &Target) -> Provider {
    let mut tags =
        vec![("Environment", settings.stage.as_str()), ("Project", settings.project), ("ManagedBy", "terraform")];
    // A preview's resources say whose they are and until when: `cargo xtask preview sweep` and a reader of the bill
    // find them by these.
    if let Some(p) = &settings.preview {
        tags.extend([("Preview", p.name.as_str()), ("Expires", p.expires.as_str())]);
    }
    let default_tags = crate::model::tags(&tags);
    let provider = Provider::new()
        .region(settings.region)
        .default_tags(DefaultTags::new().tags(default_tags))
        .allowed_account_ids([settings.account_id]);
    match target {
        Target::Aws => provider,
        Target::Emulator { endpoint, .. } => provider
            .access_key("test")
            .secret_key("test")
            .skip_credentials_validation(true)
            .skip_metadata_api_check("true")
            .s3_use_path_style(true)
            // Fail fast on an API the emulator lacks instead of retrying for minutes.
            .max_retries(1)
            .endpoints(vec![emulated_services(endpoint)]),
    }
}

/// The state backend of one of an environment's root modules (`key` is its object in the state bucket).
pub fn backend(settings: &Settings, target: &Target, key: &str) -> Backend {
    let s3 = |emulator: Option<String>| Backend::S3 {
        bucket: settings.backend.bucket.clone(),
        key: key.to_owned(),
        region: settings.backend.region.to_owned(),
        use_lockfile: settings.backend.use_lockfile,
        emulator,
    };
    match target {
        Target::Emulator { state: EmulatorState::Local, .. } => Backend::Local { path: "terraform.tfstate".into() },
        Target::Emulator { endpoint, state: EmulatorState::S3 } => s3(Some(endpoint.clone())),
        Target::Aws => s3(None),
    }
}
