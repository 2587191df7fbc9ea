//! The platform as Terraform stacks: one root module per environment, built from the module catalog and the
//! environment settings table, rendered by `infra-dsl`.
//!
//! Architecture invariant: synth is pure. Nothing here reads the clock, the environment or the file system, and
//! this crate never depends on a Lambda handler crate: it knows functions only by their catalog entries.

pub mod alarm_topic;
pub mod alarms;
pub mod api;
pub mod authorizer;
pub mod bootstrap;
pub mod buckets;
pub mod cost;
pub mod dashboard;
pub mod diagram;
pub mod env;
pub mod function;
pub mod grants;
pub mod http;
pub mod iam_check;
pub mod keys;
pub mod module;
pub mod names;
pub mod objects;
pub mod platform;
pub mod provider;
pub mod queue;
pub mod renames;
pub mod schedule;
pub mod secrets;
pub mod service;
pub mod signing;

pub use env::{Env, Settings, UnknownEnv};
pub use infra_dsl::DslError;
pub use provider::{EmulatorState, Target};

/// Resource tags: sorted by key, so the output is stable.
pub type Tags = std::collections::BTreeMap<String, String>;

/// Tags from pairs.
pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Which identity provider the authorizer trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// The environment's Okta authorization server (the settings table).
    Okta,
    /// A local development issuer (its URL and where its keys are); refused for stg and prd.
    Development { issuer: String, jwks_url: String },
}

/// How to render an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub issuer: Issuer,
    /// Render stg or prd even though settings still hold example values; `terraform plan` then stops with a
    /// precondition naming them.
    pub example: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { issuer: Issuer::Okta, example: false }
    }
}

/// Why synth failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Dsl(#[from] DslError),
    #[error("the development issuer cannot be used for {0}: it is for dev and tst only, so stg and prd trust Okta alone. Synthesize {0} without --dev-issuer")]
    DevIssuerRefused(Env),
    #[error("{env} still has example values in {}: set them in stacks/src/env.rs (Env::settings) before deploying {env}, or pass --example to render an example that terraform plan refuses", names.join(", "))]
    Placeholders { env: Env, names: Vec<&'static str> },
    #[error("{0} has no alarm recipients: an alarm that reaches nobody is not an alarm. Set alarm_emails for {0} in stacks/src/env.rs")]
    NoAlarmRecipients(Env),
    /// The catalog's functions do not fit the account's Lambda concurrency.
    #[error("{env}: {message}")]
    Concurrency { env: Env, message: String },
    /// The catalog declares a function that cannot work as declared; `file` is where to fix it.
    #[error("{file}: {function}: {message}")]
    Catalog { file: String, function: &'static str, message: String },
}

impl StackError {
    /// A refusal of `function`'s declaration in `module`'s catalog file.
    pub fn catalog(module: &route_registry::Module, function: &route_registry::Function, message: String) -> Self {
        StackError::Catalog { file: module.catalog_file(), function: function.binary, message }
    }
}

/// The rendered root module of one environment.
#[derive(Debug, Clone)]
pub struct Synthesized {
    pub env: Env,
    /// The `main.tf.json` text, byte-identical for the same code.
    pub text: String,
    pub resource_count: usize,
    /// Rendered with example values (stg/prd only): not deployable.
    pub example: bool,
}

/// Synthesizes one environment for a target, trusting the environment's Okta issuer.
pub fn synth(env: Env, target: &Target) -> Result<Synthesized, StackError> {
    synth_with(env, target, &Options::default())
}

/// Synthesizes one environment with options; refuses what must not reach stg or prd.
pub fn synth_with(env: Env, target: &Target, options: &Options) -> Result<Synthesized, StackError> {
    synth_settings(env.settings(), target, options)
}

/// Synthesizes from an explicit settings row (benchmarks and tests vary it).
pub fn synth_settings(settings: Settings, target: &Target, options: &Options) -> Result<Synthesized, StackError> {
    synth_catalog(settings, target, options, route_registry::MODULES)
}

/// Synthesizes with an explicit list of modules instead of the catalog's (tests of a new module, the synth scaling
/// benchmark).
pub fn synth_catalog(
    settings: Settings,
    target: &Target,
    options: &Options,
    modules: &[route_registry::Module],
) -> Result<Synthesized, StackError> {
    let env = settings.env;
    let dev_issuer = matches!(options.issuer, Issuer::Development { .. });
    if dev_issuer && env.is_production_like() {
        return Err(StackError::DevIssuerRefused(env));
    }
    if env == Env::Prd && settings.alarm_emails.is_empty() {
        return Err(StackError::NoAlarmRecipients(env));
    }
    let placeholders = settings.placeholders();
    let example = env.is_production_like() && !placeholders.is_empty();
    if example && !options.example && *target == Target::Aws {
        let mut names: Vec<&'static str> = placeholders.iter().map(|(n, _)| *n).collect();
        names.dedup();
        return Err(StackError::Placeholders { env, names });
    }
    let flags = format!("{}{}", if dev_issuer { " --dev-issuer" } else { "" }, if example { " --example" } else { "" });
    let header = match target {
        Target::Aws if example => format!(
            "EXAMPLE rendering by `cargo xtask synth {env}{flags}`: settings still hold example values, so terraform plan stops with a precondition naming them. Do not edit: change the Rust code and synth again."
        ),
        Target::Aws => format!(
            "Generated by `cargo xtask synth {env}{flags}` from the stacks crate. Do not edit: change the Rust code and synth again."
        ),
        Target::Emulator { .. } => {
            format!("Generated by `cargo xtask deploy-local` for a local AWS emulator ({env} settings). Not for AWS.")
        }
    };
    let guard = if example { platform::placeholder_guard(&settings) } else { None };
    let stack = platform::build(&settings, target, &header, &options.issuer, guard, modules)?;
    Ok(Synthesized { env, text: stack.render()?, resource_count: stack.resource_count(), example })
}

#[cfg(test)]
mod tests;
