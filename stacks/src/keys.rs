//! The environment's customer-managed KMS key (rotation on) and its alias: secrets, the alarm topic, the documents
//! bucket and the log groups are encrypted with it.

use infra_dsl::aws::{KmsAlias, KmsKey};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Ref, Stack};

use crate::model::{keep, Account};
use crate::names;

/// Adds the key and its alias. The account's IAM decides who uses the key (the first statement delegates to IAM, as
/// AWS's default policy does); the services that use it on the platform's behalf are named, each limited to this
/// account.
pub fn add(stack: &mut Stack, account: &Account) -> Result<Ref<KmsKey>, DslError> {
    let settings = &account.settings;
    let policy = PolicyDocument::new(vec![
        Statement::allow(&["kms:*"])
            .sid("AccountAdministersThroughIam")
            .principal(Principal::Aws(account.root()))
            .resources(["*"]),
        Statement::allow(&["kms:Decrypt", "kms:GenerateDataKey*"])
            .sid("CloudWatchAlarmsPublishToTheTopic")
            .principal(Principal::service("cloudwatch.amazonaws.com"))
            .resources(["*"])
            .condition("StringEquals", "aws:SourceAccount", [account.id()]),
        Statement::allow(&["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"])
            .sid("CloudWatchLogsEncryptsTheLogGroups")
            .principal(Principal::service(format!("logs.{}.amazonaws.com", settings.region)))
            .resources(["*"])
            .condition("ArnLike", "kms:EncryptionContext:aws:logs:arn", [account.arn("logs", "log-group:*")]),
    ]);
    let key = stack.add(
        KmsKey::new(names::KEY)
            .description(format!("{}: secrets, alarm topic, documents and logs", settings.name_prefix))
            .enable_key_rotation(true)
            .deletion_window_in_days(if settings.env == crate::Env::Prd { 30u32 } else { 7 })
            .policy(policy.to_expr()?)
            .tags(account.tags())
            .lifecycle_opt(keep(settings)),
    )?;
    stack.add(KmsAlias::new(names::KEY, key.key_id()).name(format!("alias/{}-platform", settings.name_prefix)))?;
    Ok(key)
}
