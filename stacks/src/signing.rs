//! Lambda code signing: the signer profile packages are signed with, and the code-signing configuration every
//! function carries (enforced or only logged, per the settings table). Left out for the emulator.

use infra_dsl::aws::lambda_code_signing_config::{AllowedPublishers, Policies};
use infra_dsl::aws::{LambdaCodeSigningConfig, SignerSigningProfile};
use infra_dsl::{DslError, Expr, Stack};

use crate::model::Account;

/// The configuration's ARN (for the functions) and the profile's name (for an output).
pub fn add(stack: &mut Stack, account: &Account) -> Result<(Expr, Expr), DslError> {
    let settings = &account.settings;
    let profile = stack.add(
        SignerSigningProfile::new("lambda", "AWSLambda-SHA384-ECDSA")
            .name(format!("{}_lambda", settings.name_prefix.replace('-', "_")))
            .tags(account.tags()),
    )?;
    let config = stack.add(
        LambdaCodeSigningConfig::new("lambda", AllowedPublishers::new([profile.version_arn()]))
            .description(format!("{}: packages signed by the stack's profile", settings.name_prefix))
            .policies(Policies::new(if settings.enforce_code_signing { "Enforce" } else { "Warn" })),
    )?;
    Ok((config.arn(), profile.name()))
}
