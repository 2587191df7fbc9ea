//! Why synth fails: the DSL's own errors, and the stacks' refusals (each naming what to change and where).

use crate::Env;

/// Why synth failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Dsl(#[from] infra_dsl::DslError),
    #[error("the development issuer cannot be used for {0}: it is for dev and tst only, so stg and prd trust Okta alone. Synthesize {0} without --dev-issuer")]
    DevIssuerRefused(Env),
    #[error("{env} still has example values in {}: set them in stacks/settings/src/env.rs (Env::settings) before deploying {env}, or pass --example to render an example that terraform plan refuses", names.join(", "))]
    Placeholders { env: Env, names: Vec<&'static str> },
    #[error("{0} has no alarm recipients: an alarm that reaches nobody is not an alarm. Set alarm_emails for {0} in stacks/settings/src/env.rs")]
    NoAlarmRecipients(Env),
    /// The catalog's functions do not fit the account's Lambda concurrency.
    #[error("{env}: {message}")]
    Concurrency { env: Env, message: String },
    /// The catalog declares a function that cannot work as declared; `file` is where to fix it.
    #[error("{file}: {function}: {message}")]
    Catalog { file: String, function: &'static str, message: String },
    /// The platform's own rendering could not be read back (a bug in the DSL's renderer).
    #[error("the synthesized platform cannot be read back: {0}")]
    Internal(String),
}

impl StackError {
    /// A refusal of `function`'s declaration in `module`'s catalog file.
    pub fn catalog(module: &route_registry::Module, function: &route_registry::Function, message: String) -> Self {
        StackError::Catalog { file: module.catalog_file(), function: function.binary, message }
    }
}
