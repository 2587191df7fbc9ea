//! One Lambda function of the catalog: its log group, its own role with a policy holding exactly its grants, and
//! the function (arm64 `provided.al2023`, traced, with reserved concurrency, code signing and the environment its
//! declared uses imply). What starts it (routes, a queue, a schedule) is wired by its trigger kind
//! ([`crate::triggers`]); its alarms by [`crate::alarms`].

use indexmap::IndexMap;
use infra_dsl::aws::lambda_function::{DeadLetterConfig, Environment, TracingConfig};
use infra_dsl::aws::{CloudwatchLogGroup, IamRole, IamRolePolicy, LambdaAlias, LambdaFunction};
use infra_dsl::policy::PolicyDocument;
use infra_dsl::{Block, Condition, DslError, Expr, Lifecycle, Stack};
use route_registry::{Function, Use};

use crate::model::{function_tags, DeployedFunction, Platform, Wiring};
use crate::{grants, names, triggers};

/// Adds one Lambda with its role, policy and log group. `extra_env` is configuration beyond what the declared uses
/// imply (the authorizer's issuer).
pub fn add(
    stack: &mut Stack,
    platform: &Platform,
    f: Function,
    wiring: Wiring<'_>,
    extra_env: &[(&'static str, String)],
) -> Result<DeployedFunction, DslError> {
    let settings = &platform.settings;
    let local = names::local(&f);
    let name = names::function_name(settings, &f);
    let tags = function_tags(&f);

    let log_group = stack.add(
        CloudwatchLogGroup::new(&local)
            .name(format!("/aws/lambda/{name}"))
            .retention_in_days(settings.log_retention_days)
            .kms_key_id(platform.key.arn())
            .tags(tags.clone()),
    )?;
    let role = stack.add(
        IamRole::new(&local, PolicyDocument::assume_role("lambda.amazonaws.com").to_expr()?)
            .name(format!("{name}-role"))
            .description(format!("Execution role of {name}; grants only what the function declares."))
            .permissions_boundary(crate::pipeline::boundary_arn(&platform.account))
            .tags(tags.clone()),
    )?;
    let policy = stack.add(
        IamRolePolicy::new(
            &local,
            PolicyDocument::new(grants::statements(
                &grants::of(&f, settings, &triggers::of(&f.trigger).queues(&f)),
                &local,
            ))
            .to_expr()?,
            role.id(),
        )
        .name(format!("{name}-policy")),
    )?;

    // One package per module, shared by its functions: the first of them adds the local that names it.
    let zip_local = names::zip_local(&f);
    if !stack.has_local(&zip_local) {
        stack.local(&zip_local, Expr::raw("path.module") + format!("/../../{}", names::zip_path(&f)))?;
    }
    let zip_hcl = format!("local.{zip_local}");
    let timeout = settings.lambda_timeout_s.unwrap_or(f.timeout_s);
    let mut lambda = LambdaFunction::new(&local, name.as_str(), role.arn())
        .description(format!("{} / {}", f.module, f.name))
        .runtime("provided.al2023")
        // The package's binary serves the function its handler names (`module_runtime::main` reads `_HANDLER`).
        .handler(f.binary)
        .architectures(["arm64"])
        .memory_size(settings.lambda_memory_mb.unwrap_or(f.memory_mb))
        .timeout(timeout)
        .reserved_concurrent_executions(triggers::reserved_concurrency(platform, &f))
        .tracing_config(TracingConfig::new("Active"))
        // Every change of code or configuration publishes a version; the alias says which one serves.
        .publish(true)
        .source_code_hash(Expr::raw(format!("fileexists({zip_hcl}) ? filebase64sha256({zip_hcl}) : null")))
        .environment(Environment::new().variables(environment(platform, &f, wiring, extra_env)?))
        .tags(tags)
        .lifecycle(Lifecycle {
            precondition: vec![Condition {
                condition: Expr::raw(format!("fileexists({zip_hcl})")),
                error_message: format!(
                    "The package of {name} is missing ({}). Build the Lambda packages first: cargo xtask build",
                    names::zip_path(&f)
                ),
            }],
            ..Default::default()
        })
        .depends_on(&log_group)
        .depends_on(&policy);
    lambda = code(stack, platform, &f, lambda, &zip_hcl)?;
    // The emulator does not keep a function's dead-letter config, so the plan after apply would always add it.
    if let Some(dlq) = wiring.dlq.filter(|_| !platform.emulator) {
        lambda = lambda.dead_letter_config(DeadLetterConfig::new(dlq.arn()));
    }
    let lambda = stack.add(lambda)?;
    // What everything that starts the function targets (names::ALIAS): a release moves this one pointer.
    let alias = stack.add(
        LambdaAlias::new(&local, lambda.function_name(), lambda.version(), names::ALIAS)
            .description(format!("The version of {name} that serves; everything that starts it targets this"))
            // Terraform makes the alias on the first version it publishes; from then on the deployment moves it
            // (`cargo xtask deploy`: CodeDeploy shifts the version and its weights), so a plan after a canary or a
            // rollback sees no drift and never moves traffic by itself.
            .lifecycle(Lifecycle { ignore_changes: vec!["function_version", "routing_config"], ..Default::default() }),
    )?;
    let addresses = [log_group.address(), role.address(), policy.address(), lambda.address(), alias.address()]
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(DeployedFunction { function: f, name, lambda, alias, role, policy, log_group, alarms: Vec::new(), addresses })
}

/// The function's code: where signing is enforced, the signed copy of its package; elsewhere the local zip; and the
/// code-signing configuration outside the emulator.
fn code(
    stack: &mut Stack,
    platform: &Platform,
    f: &Function,
    mut lambda: LambdaFunction,
    zip_hcl: &str,
) -> Result<LambdaFunction, DslError> {
    if let Some(config) = &platform.code_signing {
        lambda = lambda.code_signing_config_arn(config.clone());
    }
    Ok(match &platform.signer {
        Some(signer) => {
            let (bucket, key) = crate::signing::signed_package(stack, signer, f, zip_hcl)?;
            lambda.s3_bucket(bucket).s3_key(key)
        }
        None => lambda.filename(Expr::raw(zip_hcl)),
    })
}

/// The function's environment: what every function gets, what its declared uses and trigger imply, and `extra`.
fn environment(
    platform: &Platform,
    f: &Function,
    wiring: Wiring<'_>,
    extra: &[(&'static str, String)],
) -> Result<IndexMap<String, Expr>, DslError> {
    let settings = &platform.settings;
    let mut variables: IndexMap<String, Expr> = IndexMap::new();
    variables.insert("REGION".into(), settings.region.into());
    variables.insert("ENVIRONMENT".into(), settings.stage.as_str().into());
    variables.insert("LOG_LEVEL".into(), settings.log_level.into());
    for u in f.uses {
        match u {
            Use::Database => {
                // No secret: the URL and the publishable key are public by design (see `Settings`).
                variables.insert("SUPABASE_URL".into(), settings.supabase_url.as_str().into());
                variables.insert("SUPABASE_ANON_KEY".into(), settings.supabase_publishable_key.as_str().into());
            }
            Use::Okta => {
                variables.insert("OKTA_API_TOKEN_SECRET_ARN".into(), platform.okta_secret.arn());
                variables.insert("OKTA_DOMAIN".into(), settings.okta_domain.as_str().into());
            }
            Use::Documents { prefix, .. } => {
                variables.insert("DOCUMENTS_BUCKET".into(), platform.documents.bucket());
                variables.insert("DOCUMENTS_PREFIX".into(), grants::documents_prefix(prefix).as_str().into());
            }
            Use::Queue(consumer) => {
                let Some((_, queues)) = wiring.queues.iter().find(|(c, _)| c == *consumer) else {
                    return Err(DslError::Dangling {
                        from: format!("{} sends to {}", f.binary, consumer.binary),
                        to: format!("the queue of {} (a queue-triggered function of {})", consumer.binary, f.module),
                    });
                };
                variables.insert(consumer.queue_url_variable(), queues.queue.url());
            }
        }
    }
    if f.acts_as_service() {
        let Some(key) = wiring.service_key else {
            return Err(DslError::Dangling {
                from: format!("{} acts as {}'s service principal", f.binary, f.module),
                to: format!("the service key of {}", f.module),
            });
        };
        variables.insert("SERVICE_KEY_ID".into(), key.arn());
        variables.insert("OKTA_TOKEN_URL".into(), format!("{}/v1/token", settings.okta_issuer).into());
        variables.insert("OKTA_CLIENT_ID".into(), settings.service_client_id(f.module).into());
        variables.insert("SERVICE_SCOPE".into(), settings.service_scope.into());
    }
    if f.module != route_registry::AUTHORIZER.module {
        variables.insert("ADMIN_GROUP".into(), settings.admin_group.into());
    }
    for (k, v) in extra {
        variables.insert((*k).into(), v.as_str().into());
    }
    Ok(variables)
}
