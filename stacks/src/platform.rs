//! The platform stack of one environment, assembled from one builder per concern: the provider and the account, the
//! environment's key, the alarm topic, the secrets, the buckets, code signing, the HTTP API, the authorizer, every
//! module of the catalog, the secrets' resource policies, the API's alarms, the dashboard and the outputs. Each
//! builder takes what it needs; a new kind of thing is a new builder, not a branch here.

use infra_dsl::aws::data::{CallerIdentity, Partition};
use infra_dsl::aws::{
    Apigatewayv2Api, Apigatewayv2Authorizer, CloudwatchMetricAlarm, KmsKey, S3Bucket, SecretsmanagerSecret, SnsTopic,
};
use infra_dsl::{Condition, Expr, Lifecycle, Ref, Stack};
use route_registry::Trigger;

use crate::env::Settings;
use crate::module::{self, DeployedModule, Sources};
use crate::provider::{backend, provider, Target, AWS_PROVIDER_VERSION, TERRAFORM_VERSION};
use crate::{
    alarm_topic, alarms, api, authorizer, buckets, dashboard, keys, objects, schedule, secrets, signing, Issuer,
    StackError, Tags,
};

/// The account and partition the stack runs in, and the environment's settings: what every builder starts from.
#[derive(Debug, Clone)]
pub struct Account {
    pub settings: Settings,
    pub identity: Ref<CallerIdentity>,
    pub partition: Ref<Partition>,
}

impl Account {
    /// The account id.
    pub fn id(&self) -> Expr {
        self.identity.account_id()
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> Expr {
        Expr::lit("arn:")
            + self.partition.partition()
            + format!(":{service}:{}:", self.settings.region)
            + self.id()
            + format!(":{resource}")
    }

    /// The account's root principal.
    pub fn root(&self) -> Expr {
        Expr::lit("arn:") + self.partition.partition() + ":iam::" + self.id() + ":root"
    }

    /// The tags of platform-level resources.
    pub fn tags(&self) -> Tags {
        [("Module".to_owned(), "platform".to_owned())].into_iter().collect()
    }
}

/// The platform resources functions are wired to.
#[derive(Debug, Clone)]
pub struct Platform {
    pub settings: Settings,
    pub account: Account,
    pub alarm_topic: Ref<SnsTopic>,
    pub okta_secret: Ref<SecretsmanagerSecret>,
    /// The environment's key: the secrets and log groups are encrypted with it (reading a secret needs
    /// `kms:Decrypt` on it).
    pub key: Ref<KmsKey>,
    pub documents: Ref<S3Bucket>,
    /// The code-signing configuration every function carries.
    pub code_signing: Option<Expr>,
    /// Building for the local emulator, which lacks some APIs (see [`crate::provider::EMULATOR_OMITS`]).
    pub emulator: bool,
    /// What each module function reserves: the environment's share for the catalog's number of functions.
    pub module_function_concurrency: u32,
}

/// The API that HTTP functions are routed from, and its authorizer.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub api: Ref<Apigatewayv2Api>,
    pub authorizer: Ref<Apigatewayv2Authorizer>,
}

/// Keeps prd's data through a mistaken `terraform destroy`: the plan fails instead.
pub fn keep(settings: &Settings) -> Option<Lifecycle> {
    (settings.env == crate::Env::Prd).then(|| Lifecycle { prevent_destroy: true, ..Default::default() })
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
) -> Result<Stack, StackError> {
    objects::check(catalog)?;
    let module_function_concurrency = settings
        .reserved_concurrency
        .module_function_share(crate::env::ModuleFunctions::of(catalog))
        .map_err(|message| StackError::Concurrency { env: settings.env, message })?;
    let mut stack = Stack::new(header, TERRAFORM_VERSION);
    stack.require_provider("aws", "hashicorp/aws", AWS_PROVIDER_VERSION);
    stack.backend(backend(settings, target, settings.backend.key));
    stack.provider("aws", &provider(settings, target))?;
    let account = Account {
        settings: settings.clone(),
        identity: stack.data(CallerIdentity::new("current"))?,
        partition: stack.data(Partition::new("current"))?,
    };
    let emulator = target.is_emulator();

    let key = keys::add(&mut stack, &account)?;
    let alarm_topic = alarm_topic::add(&mut stack, &account, &key)?;
    let okta_secret = secrets::add(&mut stack, &account, &key)?;
    let documents = buckets::add(&mut stack, &account, &key, emulator)?;
    let (code_signing, signing_profile) = match emulator {
        true => (None, None),
        false => {
            let (config, profile) = signing::add(&mut stack, &account)?;
            (Some(config), Some(profile))
        }
    };
    if guard.is_some() {
        let names: Vec<&str> = settings.placeholders().iter().map(|(n, _)| *n).collect();
        stack.local(PLACEHOLDERS_LOCAL, serde_json::json!(names))?;
    }
    let api = api::add(&mut stack, &account, &key, guard)?;
    let platform = Platform {
        settings: settings.clone(),
        account: account.clone(),
        alarm_topic: alarm_topic.clone(),
        okta_secret: okta_secret.clone(),
        key: key.clone(),
        documents: documents.clone(),
        code_signing,
        emulator,
        module_function_concurrency,
    };
    let (authorizer_fn, authorizer) = authorizer::add(&mut stack, &platform, &api, issuer)?;
    let gateway = Gateway { api: api.clone(), authorizer };

    let scheduled = catalog.iter().flat_map(|m| m.functions.iter()).any(|f| matches!(f.trigger, Trigger::Schedule(_)));
    let schedule_group = match scheduled {
        true => Some(schedule::add_group(&mut stack, &platform)?),
        false => None,
    };
    let sources = Sources { gateway: &gateway, schedules: schedule_group.as_ref() };
    let mut modules: Vec<DeployedModule> = Vec::new();
    for m in catalog {
        modules.push(module::add(&mut stack, &platform, sources, m)?);
    }
    let subscribers: Vec<_> = modules.iter().flat_map(|m| m.subscribers.iter().cloned()).collect();
    objects::add_notification(&mut stack, &platform, &subscribers)?;
    let functions = || modules.iter().flat_map(|m| m.functions.iter());
    secrets::add_policy(&mut stack, &account, &okta_secret, functions())?;

    let mut api_alarms = alarms::add_api(&mut stack, &platform, &api)?;
    if let Some(group) = &schedule_group {
        api_alarms.push(alarms::add_schedules(&mut stack, &platform, group)?);
    }
    let all_alarms: Vec<Ref<CloudwatchMetricAlarm>> = authorizer_fn
        .alarms
        .iter()
        .chain(functions().flat_map(|d| d.alarms.iter()))
        .chain(api_alarms.iter())
        .cloned()
        .collect();
    dashboard::add(&mut stack, settings, &api, &authorizer_fn, &modules, schedule_group.as_ref(), &all_alarms)?;

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
