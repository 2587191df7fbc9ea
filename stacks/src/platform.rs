//! The platform stack of one environment, assembled from one builder per concern: the provider and the account, the
//! environment's key, the alarm topic, the secrets, the buckets, code signing, the HTTP API, the authorizer, every
//! module of the catalog, the secrets' resource policies, the API's alarms, the dashboard and the outputs. Each
//! builder takes what it needs; a new kind of thing is a new builder, not a branch here.

use infra_dsl::aws::data::{CallerIdentity, Partition};
use infra_dsl::aws::{Apigatewayv2Api, CloudwatchMetricAlarm, KmsKey, S3Bucket, SnsTopic};
use infra_dsl::{Condition, Expr, Ref, Stack};

use crate::env::Settings;
use crate::model::{Account, DeployedModule, Gateway, Issuer, Platform, Sources};
use crate::provider::{backend, provider, Target, AWS_PROVIDER_VERSION, TERRAFORM_VERSION};
use crate::{
    alarm_topic, alarms, api, authorizer, buckets, dashboard, delivery, keys, module, secrets, signing, triggers,
    StackError,
};

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
    triggers::check_documents(catalog)?;
    let module_function_concurrency = settings
        .reserved_concurrency
        .module_function_share(triggers::module_functions(catalog))
        .map_err(|message| StackError::Concurrency { env: settings.env, message })?;
    let mut stack = Stack::new(header, TERRAFORM_VERSION);
    stack.require_provider("aws", "hashicorp/aws", AWS_PROVIDER_VERSION);
    stack.backend(backend(settings, target, &settings.backend.key));
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
    let (code_signing, signing_profile, signer) = match emulator {
        true => (None, None, None),
        false => {
            let (config, profile) = signing::add(&mut stack, &account)?;
            let signer = match settings.enforce_code_signing {
                true => Some(signing::signer(&mut stack, &account, profile.clone())?),
                false => None,
            };
            (Some(config), Some(profile), signer)
        }
    };
    if guard.is_some() {
        let names: Vec<&str> = settings.placeholders().iter().map(|(n, _)| *n).collect();
        stack.local(PLACEHOLDERS_LOCAL, serde_json::json!(names))?;
    }
    let gateway_api = api::add(&mut stack, &account, &key, guard)?;
    let api = gateway_api.api.clone();
    let platform = Platform {
        settings: settings.clone(),
        account: account.clone(),
        alarm_topic: alarm_topic.clone(),
        okta_secret: okta_secret.clone(),
        key: key.clone(),
        documents: documents.clone(),
        code_signing,
        signer,
        emulator,
        module_function_concurrency,
    };
    let api_own = alarms::add_api(&mut stack, &platform, &api)?;
    let delivery = delivery::add(&mut stack, &platform, api_own.clone())?;
    let (mut authorizer_fn, authorizer) = authorizer::add(&mut stack, &platform, &api, issuer)?;
    delivery::add_group(&delivery, &mut stack, &platform, &mut authorizer_fn)?;
    let gateway = Gateway { api: api.clone(), authorizer };

    let schedule_group = match triggers::count(catalog, |k| k.uses_schedule_group()) > 0 {
        true => Some(triggers::add_group(&mut stack, &platform)?),
        false => None,
    };
    let sources = Sources { gateway: &gateway, schedules: schedule_group.as_ref(), delivery: &delivery };
    let mut modules: Vec<DeployedModule> = Vec::new();
    for m in catalog {
        modules.push(module::add(&mut stack, &platform, sources, m)?);
    }
    let public_routes: Vec<_> = modules.iter().flat_map(|m| m.public_routes.iter().cloned()).collect();
    api::add_stage(&mut stack, &account, &gateway_api, &public_routes, emulator)?;
    let subscribers: Vec<_> = modules.iter().flat_map(|m| m.subscribers.iter().cloned()).collect();
    triggers::add_notification(&mut stack, &platform, &subscribers)?;
    let functions = || modules.iter().flat_map(|m| m.functions.iter());
    secrets::add_policy(&mut stack, &account, &okta_secret, functions())?;

    let mut api_alarms = api_own;
    if let Some(group) = &schedule_group {
        api_alarms.push(triggers::add_group_alarm(&mut stack, &platform, group)?);
    }
    let all_alarms: Vec<Ref<CloudwatchMetricAlarm>> = authorizer_fn
        .alarms
        .iter()
        .chain(functions().flat_map(|d| d.alarms.iter()))
        .chain(api_alarms.iter())
        .cloned()
        .collect();
    dashboard::add(&mut stack, settings, &api, &authorizer_fn, &modules, schedule_group.as_ref(), &all_alarms)?;

    add_outputs(&mut stack, &api, &alarm_topic, &documents, &key, signing_profile)?;
    Ok(stack)
}

/// The environment's outputs: the API's URL, the alarm topic, the documents bucket, the key, the signing profile.
fn add_outputs(
    stack: &mut Stack,
    api: &Ref<Apigatewayv2Api>,
    alarm_topic: &Ref<SnsTopic>,
    documents: &Ref<S3Bucket>,
    key: &Ref<KmsKey>,
    signing_profile: Option<Expr>,
) -> Result<(), StackError> {
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
    Ok(())
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
            "This is an example rendering of {env}: settings {} still hold example values. Set them in stacks/settings/src/env.rs, then run cargo xtask synth {env}.",
            left.iter().map(|(n, v)| format!("{n} ({v})")).collect::<Vec<_>>().join(", "),
            env = settings.env
        ),
    })
}
