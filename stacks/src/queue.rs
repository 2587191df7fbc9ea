//! The queue trigger: a queue-triggered function gets its queue and a dead-letter queue (both encrypted with the
//! environment's key), and an event source mapping that hands it batches with partial batch responses on. Producers
//! find the queue's URL in their environment ([`route_registry::Function::queue_url_variable`]) and may only send.
//!
//! Synth refuses what cannot work: a visibility timeout under six times the function's timeout (a batch still
//! running, or retried by Lambda, would be handed out again), and a queue allowed more concurrent invocations than the
//! function may have (the queue would throttle its own function).

use infra_dsl::aws::lambda_event_source_mapping::ScalingConfig;
use infra_dsl::aws::{LambdaEventSourceMapping, SqsQueue};
use infra_dsl::{Block, DslError, Expr, Lifecycle, Ref, Stack};
use route_registry::{Function, Module, QueueTrigger};
use serde_json::json;

use crate::function::{self, DeployedFunction};
use crate::platform::Platform;
use crate::{names, StackError};

/// A dead-letter queue keeps what failed for 14 days, the most SQS allows: time to look, fix and redrive.
pub const DLQ_RETENTION_S: u32 = 14 * 24 * 3600;
/// A queue keeps a message 4 days (SQS's default): far longer than any backlog a worker should have.
pub const RETENTION_S: u32 = 4 * 24 * 3600;
/// How long SQS reuses a data key before asking KMS again (its maximum, 24 h, would cut KMS calls further; 5 min
/// is SQS's default and costs a few cents a month at the platform's volumes).
pub const DATA_KEY_REUSE_S: u32 = 300;

/// Why the catalog's queue settings for `f` cannot work in this environment.
pub fn check(platform: &Platform, module: &Module, f: &Function, q: &QueueTrigger) -> Result<(), StackError> {
    let timeout = platform.settings.lambda_timeout_s.unwrap_or(f.timeout_s);
    let refuse = |message: String| StackError::catalog(module, f, message);
    if q.visibility_timeout_s < 6 * timeout {
        return Err(refuse(format!(
            "the queue's visibility timeout ({} s) is under six times the function's timeout ({timeout} s): a batch still running would be delivered again. Set visibility_timeout_s to at least {} s",
            q.visibility_timeout_s,
            6 * timeout
        )));
    }
    let reserved = function::reserved_concurrency(platform, f);
    if q.max_concurrency > reserved {
        return Err(refuse(format!(
            "the queue may start {} concurrent invocations but the function may run only {reserved} in {} (its reserved concurrency): the queue would throttle its own function. Set max_concurrency to {reserved} or less",
            q.max_concurrency, platform.settings.env
        )));
    }
    Ok(())
}

/// The queue of a queue-triggered function and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct Queues {
    pub queue: Ref<SqsQueue>,
    pub dlq: Ref<SqsQueue>,
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
        .tags(function::tags(f));
    // The emulator does not keep a redrive-allow policy, and the provider would wait for it forever.
    if let Some(source) = source.filter(|_| !platform.emulator) {
        dlq = dlq.redrive_allow_policy(Expr::json_document(&json!({
            "redrivePermission": "byQueue",
            "sourceQueueArns": [source],
        }))?);
    }
    stack.add(dlq)
}

/// Adds the queues of a queue-triggered function (before the functions, so producers can name them).
pub fn add_queues(stack: &mut Stack, platform: &Platform, f: &Function, q: &QueueTrigger) -> Result<Queues, DslError> {
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
            .tags(function::tags(f))
            // The emulator gives the policy back re-serialised with spaces, and the provider plans to normalise it
            // on every run; the rehearsal reads each queue's redrive policy in its verify step instead.
            .lifecycle_opt(
                platform.emulator.then(|| Lifecycle { ignore_changes: vec!["redrive_policy"], ..Default::default() }),
            ),
    )?;
    Ok(Queues { queue, dlq })
}

/// Wires the queue to its function: batches with partial batch responses, within the concurrency the catalog states.
pub fn add_mapping(
    stack: &mut Stack,
    d: &mut DeployedFunction,
    q: &QueueTrigger,
    queues: &Queues,
) -> Result<(), DslError> {
    let mapping = stack.add(
        LambdaEventSourceMapping::new(names::local(&d.function), d.lambda.arn())
            .event_source_arn(queues.queue.arn())
            .batch_size(q.batch_size)
            .maximum_batching_window_in_seconds(q.batching_window_s)
            .function_response_types(["ReportBatchItemFailures"])
            .scaling_config(ScalingConfig::new().maximum_concurrency(q.max_concurrency))
            .tags(function::tags(&d.function)),
    )?;
    d.owns(&queues.queue);
    d.owns(&queues.dlq);
    d.owns(&mapping);
    Ok(())
}
