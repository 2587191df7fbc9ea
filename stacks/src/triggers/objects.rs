//! The objects-created trigger: functions started when an object is created in the documents bucket under their
//! prefix. S3 keeps one notification configuration per bucket, so the platform writes exactly one, with every
//! module's subscriptions in it (two modules each writing their own would silently overwrite each other); each
//! subscription is filtered to `s3:ObjectCreated:*` and its prefix. The invoke permission names the bucket and the
//! account. A failed run is retried by Lambda and then lands in the function's dead-letter queue (alarmed).
//!
//! Synth refuses a function that may write under a prefix that starts it (every write would start it again: the
//! recursive-invocation bill), and two subscriptions whose prefixes overlap (S3 refuses them).

use infra_dsl::aws::s3_bucket_notification::LambdaFunction as Subscription;
use infra_dsl::aws::{LambdaPermission, S3BucketNotification};
use infra_dsl::{Block, DslError, Ref, Stack};
use route_registry::{Function, Module, Trigger, Use};
use serde_json::Value;

use super::schedule::async_retries;
use super::{CostAt, Events, Kind, WireAt, Wired};
use crate::findings::Findings;
use crate::model::{DeployedFunction, Platform};
use crate::pricing::{line, Line};
use crate::{alarms, grants, names, StackError};

/// The event family a subscription takes: creations only (never deletions or restores).
pub const EVENTS: &str = "s3:ObjectCreated:*";
/// Lambda's retries of a failed run, and how old an event may get before it goes to the dead-letter queue.
pub const RETRIES: u32 = 2;
pub const MAX_EVENT_AGE_S: u32 = 3600;

pub struct ObjectsCreated;

/// The prefix whose created objects start `f`, a function of this kind, as subscribed (`resumes/`).
fn prefix(f: &Function) -> Option<String> {
    match f.trigger {
        Trigger::ObjectsCreated { prefix } => Some(grants::documents_prefix(prefix)),
        _ => None,
    }
}

fn overlaps(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Why the documents uses of `modules` cannot work: more than one prefix for a function, a function writing where it
/// is started, or overlapping subscriptions.
pub fn check_documents(modules: &[Module]) -> Result<(), StackError> {
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
        .filter_map(|(m, f)| prefix(f).map(|p| (m, f, p)))
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
        if let Some(prefix) = prefix(&d.function) {
            subscriptions.push(
                Subscription::new([EVENTS]).id(d.name.clone()).lambda_function_arn(d.alias.arn()).filter_prefix(prefix),
            );
        }
        notification = notification.depends_on(permission);
    }
    stack.add(notification.lambda_function(subscriptions))?;
    Ok(())
}

impl Kind for ObjectsCreated {
    fn name(&self) -> &'static str {
        "objects-created"
    }

    fn event(&self) -> super::EventShape {
        super::EventShape::S3
    }

    fn dead_letter_queue(&self) -> bool {
        true
    }

    /// The permission for the documents bucket of this account to invoke it, its asynchronous retries, its dead
    /// letters alarmed; the platform subscribes it in the bucket's one notification.
    fn wire(&self, stack: &mut Stack, at: &WireAt<'_>, d: &mut DeployedFunction) -> Result<Wired, StackError> {
        let Some(dlq) = at.dlq else {
            return Err(
                DslError::Dangling { from: d.function.binary.into(), to: "its dead-letter queue".into() }.into()
            );
        };
        let local = names::local(&d.function);
        let permission = stack.add(
            LambdaPermission::new(
                format!("{local}_s3"),
                "lambda:InvokeFunction",
                d.lambda.function_name(),
                "s3.amazonaws.com",
            )
            .qualifier(d.alias.name())
            .statement_id("AllowDocumentsBucketInvoke")
            .source_arn(at.platform.documents.arn())
            .source_account(at.platform.account.id()),
        )?;
        let invoke = async_retries(stack, d, RETRIES, MAX_EVENT_AGE_S)?;
        d.owns(&permission);
        d.owns(dlq);
        d.owns(&invoke);
        alarms::add_dead_letters(stack, at.platform, d, dlq, &self.dead_letter_meaning(&d.function))?;
        alarms::add_anomalies(stack, at.platform, d)?;
        Ok(Wired { subscription: Some(permission), ..Wired::default() })
    }

    fn crash_meaning(&self) -> &'static str {
        "a crash, a timeout or a run that failed: Lambda retries it, then puts it in the dead-letter queue"
    }

    fn queues(&self, f: &Function) -> crate::grants::TriggerQueues {
        crate::grants::TriggerQueues { consumes: None, dead_letters: Some(names::dlq_local(f)) }
    }

    /// A document may take up to the function's whole timeout (reading hostile input is bounded by it, not by its
    /// size), so documents are priced at that ceiling: an upper bound, stated as such.
    fn events_follow_traffic(&self) -> bool {
        true
    }

    fn events(&self, at: &CostAt<'_>, f: &Function) -> Events {
        Events {
            per_month: at.profile.events_per_function.get(f.binary).copied().unwrap_or(0.0),
            billed_ms: f64::from(at.settings.lambda_timeout_s.unwrap_or(f.timeout_s)) * 1000.0,
        }
    }

    /// Each document is uploaded once (a POST is a PUT's price) and read once by the function.
    fn cost_lines(&self, at: &CostAt<'_>, owner: &str, f: &Function, events: f64) -> Vec<Line> {
        vec![line(
            owner,
            &format!("{}: S3 requests (upload, read)", f.name),
            events * 2.0,
            "requests",
            events * (at.prices.s3_put + at.prices.s3_get),
        )]
    }

    fn duration_label(&self, f: &Function, events: &Events) -> String {
        format!("{}: Lambda duration (arm64, each document at the {} s ceiling)", f.name, events.billed_ms / 1000.0)
    }

    fn check_permission(&self, address: &str, p: &Value, target: &Function, _apis: &[&str], out: &mut Findings) {
        let bucket_ok = p["principal"] == "s3.amazonaws.com"
            && p["source_arn"] == format!("${{aws_s3_bucket.{}.arn}}", names::DOCUMENTS)
            && p["source_account"] == "${data.aws_caller_identity.current.account_id}";
        if !bucket_ok {
            out.add(
                address,
                "-",
                "permission-source",
                format!(
                    "{} is started by the documents bucket: only s3.amazonaws.com, for that bucket (source_arn) of this account (source_account), may invoke it",
                    target.binary
                ),
            );
        }
    }

    fn alarm_count(&self) -> usize {
        // Crashes, duration, throttles, its dead letters, answers that looked wrong.
        5
    }

    fn local_description(&self, f: &Function) -> Option<String> {
        prefix(f).map(|p| format!("{} runs for each document created under {p} in the documents store", f.binary))
    }
}
