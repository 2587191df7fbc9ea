//! Where alarms go: an SNS topic encrypted with the key CloudWatch may use, which only this account's alarms may
//! publish to (over TLS), and an e-mail subscription per recipient of the settings table.

use infra_dsl::aws::{KmsKey, SnsTopic, SnsTopicPolicy, SnsTopicSubscription};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{DslError, Expr, Ref, Stack};

use crate::model::Account;

pub fn add(stack: &mut Stack, account: &Account, key: &Ref<KmsKey>) -> Result<Ref<SnsTopic>, DslError> {
    let settings = &account.settings;
    let topic = stack.add(
        SnsTopic::new("alarms")
            .name(format!("{}-alarms", settings.name_prefix))
            .kms_master_key_id(key.arn())
            .tags(account.tags()),
    )?;
    stack.add(SnsTopicPolicy::new(
        "alarms",
        topic.arn(),
        PolicyDocument::new(vec![
            Statement::allow(&["sns:Publish"])
                .sid("ThisAccountsAlarms")
                .principal(Principal::service("cloudwatch.amazonaws.com"))
                .resources([topic.arn()])
                .condition("StringEquals", "aws:SourceAccount", [account.id()])
                .condition("ArnLike", "aws:SourceArn", [account.arn("cloudwatch", "alarm:*")]),
            Statement::deny(&["sns:Publish"])
                .sid("TlsOnly")
                .principal(Principal::Aws(Expr::lit("*")))
                .resources([topic.arn()])
                .condition("Bool", "aws:SecureTransport", ["false"]),
        ])
        .to_expr()?,
    ))?;
    for (i, email) in settings.alarm_emails.iter().enumerate() {
        stack.add(SnsTopicSubscription::new(format!("alarms_email_{i}"), *email, "email", topic.arn()))?;
    }
    Ok(topic)
}
