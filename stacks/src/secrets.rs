//! The platform's secrets: metadata only (a secret's value never belongs in Terraform state), encrypted with the
//! environment's key, and a resource policy that lets only the roles of the functions declaring the secret (and the
//! break-glass role) read it, whatever IAM elsewhere in the account says.

use infra_dsl::aws::{KmsKey, SecretsmanagerSecret, SecretsmanagerSecretPolicy};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Expr, Ref, Stack};
use route_registry::Use;

use crate::model::DeployedFunction;
use crate::model::{keep, Account};
use crate::names;

/// Adds the Okta API token secret (metadata).
pub fn add(stack: &mut Stack, account: &Account, key: &Ref<KmsKey>) -> Result<Ref<SecretsmanagerSecret>, DslError> {
    let settings = &account.settings;
    stack.add(
                SecretsmanagerSecret::new(names::OKTA_SECRET)
            .name(format!("{}-okta-api-token", settings.name_prefix))
            .description(
                "Okta API token for user provisioning ({\"api_token\": …} or the bare token). Set the value outside Terraform.",
            )
            .kms_key_id(key.arn())
            .recovery_window_in_days(settings.secret_recovery_window_days)
            .tags(account.tags())
            .lifecycle_opt(keep(settings)),
    )
}

/// The secret's resource policy, once every function is in the stack: denied to every principal but the declared
/// readers' roles and the break-glass role.
pub fn add_policy<'a>(
    stack: &mut Stack,
    account: &Account,
    secret: &Ref<SecretsmanagerSecret>,
    functions: impl Iterator<Item = &'a DeployedFunction>,
) -> Result<(), DslError> {
    let break_glass = Expr::lit("arn:")
        + account.partition.partition()
        + ":iam::"
        + account.id()
        + format!(":role/{}", account.settings.break_glass_role);
    let readers: Vec<Expr> =
        functions.filter(|d| d.function.uses.contains(&Use::Okta)).map(|d| d.role.arn()).chain([break_glass]).collect();
    stack.add(
        SecretsmanagerSecretPolicy::new(
            names::OKTA_SECRET,
            PolicyDocument::new(vec![Statement::deny(&["secretsmanager:GetSecretValue"])
                .sid("OnlyDeclaredReaders")
                .principal(Principal::Aws(Expr::lit("*")))
                .resources(["*"])
                .condition("StringNotLike", "aws:PrincipalArn", readers)])
            .to_expr()?,
            secret.arn(),
        )
        .block_public_policy(true),
    )?;
    Ok(())
}
