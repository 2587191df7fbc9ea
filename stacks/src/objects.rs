//! The objects-created trigger: functions started when an object is created in the documents bucket under their
//! prefix. S3 keeps one notification configuration per bucket, so the platform writes exactly one, with every
//! module's subscriptions in it (two modules each writing their own would silently overwrite each other); each
//! subscription is filtered to `s3:ObjectCreated:*` and its prefix. The invoke permission names the bucket and the
//! account. A failed run is retried by Lambda and then lands in the function's dead-letter queue.
//!
//! Synth refuses a function that may write under a prefix that starts it (every write would start it again: the
//! recursive-invocation bill), and two subscriptions whose prefixes overlap (S3 refuses them).

use infra_dsl::aws::s3_bucket_notification::LambdaFunction as Subscription;
use infra_dsl::aws::{LambdaPermission, S3BucketNotification, SqsQueue};
use infra_dsl::{Block, DslError, Ref, Stack};
use route_registry::{Function, Module, Trigger, Use};

use crate::function::DeployedFunction;
use crate::platform::Platform;
use crate::schedule::async_retries;
use crate::{grants, names, StackError};

/// The event family a subscription takes: creations only (never deletions or restores).
pub const EVENTS: &str = "s3:ObjectCreated:*";
/// Lambda's retries of a failed run, and how old an event may get before it goes to the dead-letter queue.
pub const RETRIES: u32 = 2;
pub const MAX_EVENT_AGE_S: u32 = 3600;

fn overlaps(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Why the documents uses of `modules` cannot work: more than one prefix for a function, a function writing where it
/// is started, or overlapping subscriptions.
pub fn check(modules: &[Module]) -> Result<(), StackError> {
    for m in modules {
        for f in m.functions {
            if f.uses.iter().filter(|u| matches!(u, Use::Documents { .. })).count() > 1 {
                return Err(StackError::catalog(
                    m,
                    f,
                    "it declares more than one documents prefix, and a function gets one (`DOCUMENTS_PREFIX`). Declare the common parent prefix, or split the function".to_owned(),
                ));
            }
        }
    }

    let subscribed: Vec<(&Module, &Function, String)> = modules
        .iter()
        .flat_map(|m| m.functions.iter().map(move |f| (m, f)))
        .filter_map(|(m, f)| match f.trigger {
            Trigger::ObjectsCreated { prefix } => Some((m, f, grants::documents_prefix(prefix))),
            _ => None,
        })
        .collect();
    for (m, f, prefix) in &subscribed {
        for u in f.uses {
            if let Use::Documents { prefix: written, access } = u {
                let written = grants::documents_prefix(written);
                if access.writes() && overlaps(&written, prefix) {
                    return Err(StackError::catalog(
                        m,
                        f,
                        format!(
                            "it is started by objects created under `{prefix}` and may write under `{written}`: each write would start it again. Write results elsewhere (another prefix, or the database), or declare read access only"
                        ),
                    ));
                }
            }
        }
    }
    for (i, (m, f, prefix)) in subscribed.iter().enumerate() {
        for (_, other, other_prefix) in &subscribed[i + 1..] {
            if overlaps(prefix, other_prefix) {
                return Err(StackError::catalog(
                    m,
                    f,
                    format!(
                        "its prefix `{prefix}` overlaps `{other_prefix}` of {}: S3 refuses overlapping subscriptions to the same events on one bucket. Give each function a prefix of its own",
                        other.binary
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The permission for the documents bucket of this account to invoke `d`, and its asynchronous retries.
pub fn add_permission(
    stack: &mut Stack,
    platform: &Platform,
    d: &mut DeployedFunction,
    dlq: &Ref<SqsQueue>,
) -> Result<Ref<LambdaPermission>, DslError> {
    let local = names::local(&d.function);
    let permission = stack.add(
        LambdaPermission::new(
            format!("{local}_s3"),
            "lambda:InvokeFunction",
            d.lambda.function_name(),
            "s3.amazonaws.com",
        )
        .statement_id("AllowDocumentsBucketInvoke")
        .source_arn(platform.documents.arn())
        .source_account(platform.account.id()),
    )?;
    let invoke = async_retries(stack, d, RETRIES, MAX_EVENT_AGE_S)?;
    d.owns(&permission);
    d.owns(dlq);
    d.owns(&invoke);
    Ok(permission)
}

/// The documents bucket's one notification configuration: a subscription per objects-created function of every
/// module. Nothing when no function subscribes.
pub fn add_notification(
    stack: &mut Stack,
    platform: &Platform,
    subscribers: &[(DeployedFunction, Ref<LambdaPermission>)],
) -> Result<(), DslError> {
    if subscribers.is_empty() {
        return Ok(());
    }
    let mut subscriptions = Vec::new();
    let mut notification = S3BucketNotification::new(names::DOCUMENTS, platform.documents.id());
    for (d, permission) in subscribers {
        if let Trigger::ObjectsCreated { prefix } = d.function.trigger {
            subscriptions.push(
                Subscription::new([EVENTS])
                    .id(d.name.clone())
                    .lambda_function_arn(d.lambda.arn())
                    .filter_prefix(grants::documents_prefix(prefix)),
            );
        }
        notification = notification.depends_on(permission);
    }
    stack.add(notification.lambda_function(subscriptions))?;
    Ok(())
}
