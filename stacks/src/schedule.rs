//! The schedule trigger: an EventBridge Scheduler schedule in the environment's schedule group, in the time zone the
//! catalog states, invoking the function through a role that may invoke only that function; a run that fails after
//! its retries, or that could not be delivered, lands in the function's dead-letter queue.
//!
//! The function receives an EventBridge event (`detail-type` "Scheduled Event", `time` the scheduled time, `id` the
//! run's execution id), as scheduled rules send it, so the handler reads one typed event either way.

use infra_dsl::aws::scheduler_schedule::{DeadLetterConfig, FlexibleTimeWindow, RetryPolicy, Target};
use infra_dsl::aws::{
    IamRole, IamRolePolicy, LambdaFunctionEventInvokeConfig, SchedulerSchedule, SchedulerScheduleGroup, SqsQueue,
};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Expr, Ref, Stack};
use route_registry::{Function, Module, ScheduleTrigger};
use serde_json::json;

use crate::function::{self, DeployedFunction};
use crate::platform::Platform;
use crate::{grants, names, StackError};

/// Lambda retries a failed asynchronous run at most twice.
pub const MAX_RETRIES: u32 = 2;

/// Why the catalog's schedule for `f` cannot work.
pub fn check(module: &Module, f: &Function, s: &ScheduleTrigger) -> Result<(), StackError> {
    let refuse = |message: String| StackError::catalog(module, f, message);
    let zone = s.time_zone;
    if zone.is_empty() {
        return Err(refuse(format!(
            "the schedule `{}` has no time zone: EventBridge would read it in UTC, and a job meant for 03:00 local time would move with daylight saving. Set time_zone to an IANA zone (\"Europe/Berlin\", or \"UTC\" when UTC is meant)",
            s.expression
        )));
    }
    let iana = zone == "UTC"
        || zone.split('/').count() >= 2
            && zone
                .split('/')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c)));
    if !iana {
        return Err(refuse(format!(
            "`{zone}` is not an IANA time zone name (\"Europe/Berlin\", \"America/New_York\", \"UTC\")"
        )));
    }
    if s.retries > MAX_RETRIES {
        return Err(refuse(format!(
            "{} retries of a failed run: Lambda retries an asynchronous invocation at most {MAX_RETRIES} times",
            s.retries
        )));
    }
    Ok(())
}

/// The environment's schedule group: every schedule of the platform is in it, so its metrics (failed and dropped
/// invocations) are the platform's.
pub fn add_group(stack: &mut Stack, platform: &Platform) -> Result<Ref<SchedulerScheduleGroup>, DslError> {
    stack.add(
        SchedulerScheduleGroup::new(names::SCHEDULE_GROUP)
            .name(platform.settings.name_prefix.clone())
            .tags(platform.account.tags()),
    )
}

/// The input EventBridge Scheduler sends: an EventBridge event, its fields filled by the scheduler's context
/// attributes at each run.
pub fn input(platform: &Platform, f: &Function) -> serde_json::Value {
    json!({
        "version": "0",
        "id": "<aws.scheduler.execution-id>",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": platform.settings.account_id,
        "time": "<aws.scheduler.scheduled-time>",
        "region": platform.settings.region,
        "resources": ["<aws.scheduler.schedule-arn>"],
        "detail": {"function": f.binary, "attempt": "<aws.scheduler.attempt-number>"},
    })
}

/// Wires the schedule: the scheduler's role, the schedule, and the function's asynchronous retries.
pub fn add(
    stack: &mut Stack,
    platform: &Platform,
    group: &Ref<SchedulerScheduleGroup>,
    d: &mut DeployedFunction,
    s: &ScheduleTrigger,
    dlq: &Ref<SqsQueue>,
) -> Result<(), DslError> {
    let settings = &platform.settings;
    let f = d.function;
    let local = names::scheduler_role_local(&f);
    let assume = PolicyDocument::new(vec![Statement::allow(&["sts:AssumeRole"])
        .principal(Principal::service("scheduler.amazonaws.com"))
        .condition("StringEquals", "aws:SourceAccount", [platform.account.id()])]);
    let role = stack.add(
        IamRole::new(&local, assume.to_expr()?)
            .name(format!("{}-scheduler", d.name))
            .description(format!("EventBridge Scheduler's role for {}: invokes only that function.", d.name))
            .tags(function::tags(&f)),
    )?;
    let policy = stack.add(
        IamRolePolicy::new(
            &local,
            PolicyDocument::new(grants::statements(&grants::of_scheduler(&f, settings), &names::local(&f)))
                .to_expr()?,
            role.id(),
        )
        .name(format!("{}-scheduler-policy", d.name)),
    )?;
    let window = match s.flexible_window_min {
        0 => FlexibleTimeWindow::new("OFF"),
        minutes => FlexibleTimeWindow::new("FLEXIBLE").maximum_window_in_minutes(minutes),
    };
    let schedule = stack.add(
        SchedulerSchedule::new(
            names::local(&f),
            window,
            s.expression,
            Target::new(d.lambda.arn(), role.arn())
                .input(Expr::json_document(&input(platform, &f))?)
                .retry_policy(
                    RetryPolicy::new()
                        .maximum_retry_attempts(s.retries)
                        .maximum_event_age_in_seconds(s.max_event_age_s),
                )
                .dead_letter_config(DeadLetterConfig::new(dlq.arn())),
        )
        .name(d.name.clone())
        .group_name(group.name())
        .description(format!("{} / {}: {} ({})", f.module, f.name, s.expression, s.time_zone))
        .schedule_expression_timezone(s.time_zone)
        .state("ENABLED")
        .depends_on(&policy),
    )?;
    let invoke = async_retries(stack, d, s.retries, s.max_event_age_s)?;
    for a in [role.address().to_owned(), policy.address().to_owned(), schedule.address().to_owned()] {
        d.addresses.push(a);
    }
    d.owns(dlq);
    d.owns(&invoke);
    Ok(())
}

/// How Lambda retries a failed asynchronous run of `d` (a schedule's, an object's) before the dead-letter queue.
pub fn async_retries(
    stack: &mut Stack,
    d: &DeployedFunction,
    retries: u32,
    max_age_s: u32,
) -> Result<Ref<LambdaFunctionEventInvokeConfig>, DslError> {
    stack.add(
        LambdaFunctionEventInvokeConfig::new(names::local(&d.function), d.lambda.function_name())
            .maximum_retry_attempts(retries.min(MAX_RETRIES))
            .maximum_event_age_in_seconds(max_age_s),
    )
}
