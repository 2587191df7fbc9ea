//! The queue trigger: a queue-triggered function gets its queue and a dead-letter queue (both encrypted with the
//! environment's key), and an event source mapping that hands it batches with partial batch responses on. Producers
//! find the queue's URL in their environment ([`route_registry::Function::queue_url_variable`]) and may only send;
//! the function may only take from its own queue. Alarms: dead letters, and the oldest message's age.
//!
//! Synth refuses what cannot work: a visibility timeout under six times the function's timeout (a batch still
//! running, or retried by Lambda, would be handed out again), and a queue allowed more concurrent invocations than the
//! function may have (the queue would throttle its own function).

use infra_dsl::aws::lambda_event_source_mapping::ScalingConfig;
use infra_dsl::aws::{LambdaEventSourceMapping, SqsQueue};
use infra_dsl::{Block, DslError, Expr, Lifecycle, Ref, Stack};
use route_registry::{Function, Module, QueueTrigger, Trigger};
use serde_json::{json, Value};

use super::{CostAt, Events, IamAt, Kind, State, WireAt, Wired};
use crate::findings::{blocks, whole_ref, Findings};
use crate::model::{function_tags, DeployedFunction, Platform, Queues};
use crate::pricing::{line, measured, Line};
use crate::{alarms, names, StackError};

/// A dead-letter queue keeps what failed for 14 days, the most SQS allows: time to look, fix and redrive.
pub const DLQ_RETENTION_S: u32 = 14 * 24 * 3600;
/// A queue keeps a message 4 days (SQS's default): far longer than any backlog a worker should have.
pub const RETENTION_S: u32 = 4 * 24 * 3600;
/// How long SQS reuses a data key before asking KMS again (its maximum, 24 h, would cut KMS calls further; 5 min
/// is SQS's default and costs a few cents a month at the platform's volumes).
pub const DATA_KEY_REUSE_S: u32 = 300;
/// How long a message may wait before the queue-age alarm fires.
pub const AGE_S: u32 = 900;

pub struct Queue;

/// The catalog's queue settings of `f`, a function of this kind.
fn settings(f: &Function) -> Option<QueueTrigger> {
    match f.trigger {
        Trigger::Queue(q) => Some(q),
        _ => None,
    }
}

/// The dangling reference a function without queue settings would be (the dispatch never sends one here).
fn not_a_queue(f: &Function) -> DslError {
    DslError::Dangling { from: f.binary.into(), to: "its queue trigger's settings".into() }
}

/// A dead-letter queue for `f` (queue failures, or failed asynchronous runs): 14 days, encrypted, and only the
/// queue whose ARN is `source` (when given) may redrive into it.
pub fn add_dlq(
    stack: &mut Stack,
    platform: &Platform,
    f: &Function,
    source: Option<Expr>,
) -> Result<Ref<SqsQueue>, DslError> {
    let name = format!("{}-dlq", names::function_name(&platform.settings, f));
    let mut dlq = SqsQueue::new(names::dlq_local(f))
        .name(name)
        .message_retention_seconds(DLQ_RETENTION_S)
        .kms_master_key_id(platform.key.arn())
        .kms_data_key_reuse_period_seconds(DATA_KEY_REUSE_S)
        .tags(function_tags(f));
    // The emulator does not keep a redrive-allow policy, and the provider would wait for it forever.
    if let Some(source) = source.filter(|_| !platform.emulator) {
        dlq = dlq.redrive_allow_policy(Expr::json_document(&json!({
            "redrivePermission": "byQueue",
            "sourceQueueArns": [source],
        }))?);
    }
    stack.add(dlq)
}

impl Kind for Queue {
    fn name(&self) -> &'static str {
        "queue"
    }

    fn event(&self) -> super::EventShape {
        super::EventShape::Sqs
    }

    fn check(&self, platform: &Platform, module: &Module, f: &Function) -> Result<(), StackError> {
        let q = settings(f).ok_or_else(|| not_a_queue(f))?;
        let timeout = platform.settings.lambda_timeout_s.unwrap_or(f.timeout_s);
        let refuse = |message: String| StackError::catalog(module, f, message);
        if q.visibility_timeout_s < 6 * timeout {
            return Err(refuse(format!(
                "the queue's visibility timeout ({} s) is under six times the function's timeout ({timeout} s): a batch still running would be delivered again. Set visibility_timeout_s to at least {} s",
                q.visibility_timeout_s,
                6 * timeout
            )));
        }
        let reserved = super::reserved_concurrency(platform, f);
        if q.max_concurrency > reserved {
            return Err(refuse(format!(
                "the queue may start {} concurrent invocations but the function may run only {reserved} in {} (its reserved concurrency): the queue would throttle its own function. Set max_concurrency to {reserved} or less",
                q.max_concurrency, platform.settings.env
            )));
        }
        Ok(())
    }

    /// The queues, before the functions: producers name them.
    fn add_before(&self, stack: &mut Stack, platform: &Platform, f: &Function) -> Result<Option<Queues>, DslError> {
        let q = settings(f).ok_or_else(|| not_a_queue(f))?;
        let name = names::function_name(&platform.settings, f);
        // The queue's ARN, from its name: the queue refers to the dead-letter queue, so the reverse must not be a
        // reference (that would be a cycle).
        let arn = platform.account.arn("sqs", &name);
        let dlq = add_dlq(stack, platform, f, Some(arn))?;
        let queue = stack.add(
            SqsQueue::new(names::queue_local(f))
                .name(name)
                .visibility_timeout_seconds(q.visibility_timeout_s)
                .message_retention_seconds(RETENTION_S)
                .kms_master_key_id(platform.key.arn())
                .kms_data_key_reuse_period_seconds(DATA_KEY_REUSE_S)
                .redrive_policy(Expr::json_document(&json!({
                    "deadLetterTargetArn": dlq.arn(),
                    "maxReceiveCount": q.max_receives,
                }))?)
                .tags(function_tags(f))
                // The emulator gives the policy back re-serialised with spaces, and the provider plans to normalise
                // it on every run; the rehearsal reads each queue's redrive policy in its verify step instead.
                .lifecycle_opt(
                    platform
                        .emulator
                        .then(|| Lifecycle { ignore_changes: vec!["redrive_policy"], ..Default::default() }),
                ),
        )?;
        Ok(Some(Queues { queue, dlq }))
    }

    /// Batches with partial batch responses, within the concurrency the catalog states; its dead letters and the
    /// oldest message's age alarmed.
    fn wire(&self, stack: &mut Stack, at: &WireAt<'_>, d: &mut DeployedFunction) -> Result<Wired, StackError> {
        let q = settings(&d.function).ok_or_else(|| not_a_queue(&d.function))?;
        let Some((_, own)) = at.queues.iter().find(|(c, _)| *c == d.function) else {
            return Err(DslError::Dangling { from: d.function.binary.into(), to: "its queue".into() }.into());
        };
        let mapping = stack.add(
            LambdaEventSourceMapping::new(names::local(&d.function), d.alias.arn())
                .event_source_arn(own.queue.arn())
                .batch_size(q.batch_size)
                .maximum_batching_window_in_seconds(q.batching_window_s)
                .function_response_types(["ReportBatchItemFailures"])
                .scaling_config(ScalingConfig::new().maximum_concurrency(q.max_concurrency))
                .tags(function_tags(&d.function))
                // The emulator resolves the alias to the version it points to and gives that back, so every plan
                // would point the mapping at the alias again.
                .lifecycle_opt(
                    at.platform
                        .emulator
                        .then(|| Lifecycle { ignore_changes: vec!["function_name"], ..Default::default() }),
                ),
        )?;
        d.owns(&own.queue);
        d.owns(&own.dlq);
        d.owns(&mapping);
        alarms::add_dead_letters(stack, at.platform, d, &own.dlq, &self.dead_letter_meaning(&d.function))?;
        alarms::add_anomalies(stack, at.platform, d)?;
        let name = d.name.clone();
        let age = stack.add(alarms::queue_alarm(
            at.platform,
            d,
            &own.queue,
            "queue-age",
            "ApproximateAgeOfOldestMessage",
            f64::from(AGE_S),
            format!(
                "The oldest message in {name}'s queue has waited over {} minutes: the worker fails, is throttled, or is too slow for what arrives. The dashboard's row for {name} shows which.",
                AGE_S / 60
            ),
        ))?;
        d.alarmed(age);
        Ok(Wired::default())
    }

    fn crash_meaning(&self) -> &'static str {
        "a crash or a timeout: the whole batch returns to the queue"
    }

    fn dead_letter_meaning(&self, f: &Function) -> String {
        format!("messages failed {} times", settings(f).map_or(0, |q| q.max_receives))
    }

    fn queues(&self, f: &Function) -> crate::grants::TriggerQueues {
        crate::grants::TriggerQueues { consumes: Some(names::queue_local(f)), dead_letters: None }
    }

    fn queue_depths(&self, d: &DeployedFunction) -> Vec<(String, &'static str)> {
        vec![(d.name.clone(), "waiting"), (format!("{}-dlq", d.name), "dead letters")]
    }

    fn events_follow_traffic(&self) -> bool {
        true
    }

    fn events(&self, at: &CostAt<'_>, f: &Function) -> Events {
        Events {
            per_month: at.profile.events_per_function.get(f.binary).copied().unwrap_or(0.0),
            billed_ms: measured::EVENT_MS,
        }
    }

    /// A message is sent, received and deleted; the pollers long-poll all month besides.
    fn cost_lines(&self, at: &CostAt<'_>, owner: &str, f: &Function, events: f64) -> Vec<Line> {
        let requests = events * 3.0 + measured::IDLE_POLLS_PER_QUEUE;
        vec![line(owner, &format!("{}: SQS requests", f.name), requests, "requests", requests * at.prices.sqs_request)]
    }

    fn check_permission(&self, address: &str, _p: &Value, target: &Function, _apis: &[&str], out: &mut Findings) {
        out.add(
            address,
            "-",
            "permission-principal",
            format!(
                "{} is started by its queue's event source mapping: nothing may hold a permission to invoke it",
                target.binary
            ),
        );
    }

    /// Event source mappings: a queue-fed catalog function, from its own queue.
    fn check_resources(&self, at: &IamAt<'_>, out: &mut Findings) {
        check_mappings(at, out);
    }

    fn alarm_count(&self) -> usize {
        // Crashes, duration, throttles; dead letters, the oldest message's age, answers that looked wrong.
        6
    }

    fn verify(&self, state: &dyn State, f: &Function) -> Vec<String> {
        let Some(q) = settings(f) else { return vec![not_a_queue(f).to_string()] };
        let address = format!("aws_lambda_function.{}", names::local(f));
        let found = (|| -> Result<Vec<String>, String> {
            let alias = state.values("aws_lambda_alias", &names::local(f))?;
            let queue = state.values("aws_sqs_queue", &names::queue_local(f))?;
            let dlq = state.values("aws_sqs_queue", &names::dlq_local(f))?;
            let mapping = state.values("aws_lambda_event_source_mapping", &names::local(f))?;
            let mut problems = Vec::new();
            // The alias itself, or (the emulator, which resolves it) the version the alias points to.
            let through_alias = mapping["function_name"] == alias["arn"]
                || mapping["function_arn"].as_str().is_some_and(|arn| {
                    alias["arn"].as_str().and_then(|a| a.strip_suffix(&format!(":{}", names::ALIAS))).is_some_and(
                        |function| arn == format!("{function}:{}", alias["function_version"].as_str().unwrap_or("-")),
                    )
                });
            if mapping["event_source_arn"] != queue["arn"] || !through_alias {
                problems.push(format!("{address}: not fed from its own queue"));
            }
            if queue["visibility_timeout_seconds"] != q.visibility_timeout_s || queue["kms_master_key_id"].is_null() {
                problems.push(format!("{address}: its queue is not as the catalog says, or not encrypted"));
            }
            let redrive: Value =
                queue["redrive_policy"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
            if redrive["deadLetterTargetArn"] != dlq["arn"] || redrive["maxReceiveCount"] != q.max_receives {
                problems.push(format!(
                    "{address}: its queue does not redrive to its dead-letter queue after {}",
                    q.max_receives
                ));
            }
            Ok(problems)
        })();
        found.unwrap_or_else(|missing| vec![missing])
    }

    fn local_description(&self, f: &Function) -> Option<String> {
        settings(f).map(|q| {
            format!(
                "{} takes its queue in batches of {} (a message that fails {} times goes to its dead-letter queue)",
                f.binary, q.batch_size, q.max_receives
            )
        })
    }
}

/// Every event source mapping feeds a queue-triggered catalog function from its own queue.
pub fn check_mappings(at: &IamAt<'_>, out: &mut Findings) {
    for (name, m) in blocks(at.doc, "aws_lambda_event_source_mapping") {
        let address = format!("aws_lambda_event_source_mapping.{name}");
        let function = m["function_name"]
            .as_str()
            .and_then(whole_ref)
            .filter(|(ty, _, attr)| *ty == "aws_lambda_alias" && *attr == "arn")
            .and_then(|(_, f, _)| at.catalog.get(f));
        let Some(function) = function.filter(|f| settings(f).is_some()) else {
            out.add(
                &address,
                "-",
                "mapping-target",
                "a queue may feed only a queue-triggered catalog function, through its alias".into(),
            );
            continue;
        };
        let own = format!("${{aws_sqs_queue.{}.arn}}", names::queue_local(function));
        if m["event_source_arn"] != own.as_str() {
            out.add(
                &address,
                "-",
                "mapping-source",
                format!(
                    "{} may be fed only from its own queue ({own}), not {}",
                    function.binary, m["event_source_arn"]
                ),
            );
        }
    }
}
