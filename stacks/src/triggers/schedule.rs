//! The schedule trigger: an EventBridge Scheduler schedule in the environment's schedule group, in the time zone the
//! catalog states, invoking the function through a role that may invoke only that function; a run that fails after
//! its retries, or that could not be delivered, lands in the function's dead-letter queue (alarmed). A scheduled
//! function reserves one concurrent execution: its runs never overlap.
//!
//! The function receives an EventBridge event (`detail-type` "Scheduled Event", `time` the scheduled time, `id` the
//! run's execution id), as scheduled rules send it, so the handler reads one typed event either way.

use indexmap::IndexMap;
use infra_dsl::aws::cloudwatch_metric_alarm::{Metric, MetricQuery};
use infra_dsl::aws::scheduler_schedule::{DeadLetterConfig, FlexibleTimeWindow, RetryPolicy, Target};
use infra_dsl::aws::{
    CloudwatchMetricAlarm, IamRole, IamRolePolicy, LambdaFunctionEventInvokeConfig, SchedulerSchedule,
    SchedulerScheduleGroup,
};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Expr, Ref, Stack};
use route_registry::{Function, Module, ScheduleTrigger, Trigger};
use serde_json::{json, Value};

use super::{CostAt, Events, IamAt, InvokerRole, Kind, State, WireAt, Wired};
use crate::findings::{blocks, whole_ref, Findings};
use crate::model::{function_tags, DeployedFunction, Platform};
use crate::pricing::{line, measured, runs_per_month, Line};
use crate::{alarms, grants, names, StackError};

/// Lambda retries a failed asynchronous run at most twice.
pub const MAX_RETRIES: u32 = 2;

pub struct Schedule;

/// The catalog's schedule of `f`, a function of this kind.
fn settings(f: &Function) -> Option<ScheduleTrigger> {
    match f.trigger {
        Trigger::Schedule(s) => Some(s),
        _ => None,
    }
}

fn not_a_schedule(f: &Function) -> DslError {
    DslError::Dangling { from: f.binary.into(), to: "its schedule's settings".into() }
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

/// Runs of the environment's schedules that failed to reach their function, or were dropped.
pub fn add_group_alarm(
    stack: &mut Stack,
    platform: &Platform,
    group: &Ref<SchedulerScheduleGroup>,
) -> Result<Ref<CloudwatchMetricAlarm>, DslError> {
    let prefix = &platform.settings.name_prefix;
    let dims: IndexMap<String, Expr> = [("ScheduleGroup".to_owned(), group.name())].into_iter().collect();
    let metric = |name: &str| Metric::new(name, 300, "Sum").namespace("AWS/Scheduler").dimensions(dims.clone());
    stack.add(
        alarms::alarm(
            platform,
            "schedule_failures".into(),
            format!("{prefix}-schedule-failures"),
            "A schedule of the platform could not invoke its function, or dropped a run: the function is missing, its scheduler role lacks the permission, or Lambda throttled it past the retries. The run's event is in the function's dead-letter queue; the dashboard's schedules row shows which group metric moved, and /aws/lambda/<function> why.".into(),
        )
        .threshold(0.0)
        .metric_query(vec![
            alarms::input("errors", metric("TargetErrorCount")),
            alarms::input("dropped", metric("InvocationDroppedCount")),
            MetricQuery::new("failures").expression("errors + dropped").label("failed or dropped runs").return_data(true),
        ])
        .tags(platform.account.tags()),
    )
}

/// The input EventBridge Scheduler sends: an EventBridge event, its fields filled by the scheduler's context
/// attributes at each run.
pub fn input(platform: &Platform, f: &Function) -> Value {
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

/// How Lambda retries a failed asynchronous run of `d` (a schedule's, an object's) before the dead-letter queue.
pub fn async_retries(
    stack: &mut Stack,
    d: &DeployedFunction,
    retries: u32,
    max_age_s: u32,
) -> Result<Ref<LambdaFunctionEventInvokeConfig>, DslError> {
    stack.add(
        LambdaFunctionEventInvokeConfig::new(names::local(&d.function), d.lambda.function_name())
            // The alias's: asynchronous runs come through it (the schedule's target, the bucket's notification).
            .qualifier(d.alias.name())
            .maximum_retry_attempts(retries.min(MAX_RETRIES))
            .maximum_event_age_in_seconds(max_age_s),
    )
}

impl Kind for Schedule {
    fn name(&self) -> &'static str {
        "schedule"
    }

    fn event(&self) -> super::EventShape {
        super::EventShape::EventBridge
    }

    fn check(&self, _platform: &Platform, module: &Module, f: &Function) -> Result<(), StackError> {
        let s = settings(f).ok_or_else(|| not_a_schedule(f))?;
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

    fn dead_letter_queue(&self) -> bool {
        true
    }

    /// The scheduler's role, the schedule, the function's asynchronous retries; its dead letters alarmed.
    fn wire(&self, stack: &mut Stack, at: &WireAt<'_>, d: &mut DeployedFunction) -> Result<Wired, StackError> {
        let f = d.function;
        let s = settings(&f).ok_or_else(|| not_a_schedule(&f))?;
        let (Some(group), Some(dlq)) = (at.schedules, at.dlq) else {
            return Err(DslError::Dangling {
                from: f.binary.into(),
                to: "the schedule group and its dead-letter queue".into(),
            }
            .into());
        };
        let platform = at.platform;
        let local = names::scheduler_role_local(&f);
        let assume = PolicyDocument::new(vec![Statement::allow(&["sts:AssumeRole"])
            .principal(Principal::service("scheduler.amazonaws.com"))
            .condition("StringEquals", "aws:SourceAccount", [platform.account.id()])]);
        let role = stack.add(
            IamRole::new(&local, assume.to_expr()?)
                .name(format!("{}-scheduler", d.name))
                .description(format!("EventBridge Scheduler's role for {}: invokes only that function.", d.name))
                .permissions_boundary(crate::pipeline::boundary_arn(&platform.account))
                .tags(function_tags(&f)),
        )?;
        let policy = stack.add(
            IamRolePolicy::new(
                &local,
                PolicyDocument::new(grants::statements(
                    &grants::of_scheduler(&f, &platform.settings),
                    &names::local(&f),
                ))
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
                Target::new(d.alias.arn(), role.arn())
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
        alarms::add_dead_letters(stack, platform, d, dlq, &self.dead_letter_meaning(&f))?;
        alarms::add_anomalies(stack, platform, d)?;
        Ok(Wired::default())
    }

    fn uses_schedule_group(&self) -> bool {
        true
    }

    fn reserves_one(&self) -> bool {
        true
    }

    fn crash_meaning(&self) -> &'static str {
        "a crash, a timeout or a run that failed: Lambda retries it, then puts it in the dead-letter queue"
    }

    fn queues(&self, f: &Function) -> crate::grants::TriggerQueues {
        crate::grants::TriggerQueues { consumes: None, dead_letters: Some(names::dlq_local(f)) }
    }

    fn events(&self, _at: &CostAt<'_>, f: &Function) -> Events {
        Events { per_month: settings(f).map_or(0.0, |s| runs_per_month(s.expression)), billed_ms: measured::EVENT_MS }
    }

    fn cost_lines(&self, at: &CostAt<'_>, owner: &str, f: &Function, events: f64) -> Vec<Line> {
        vec![line(
            owner,
            &format!("{}: scheduler invocations", f.name),
            events,
            "invocations",
            events * at.prices.scheduler_invocation,
        )]
    }

    /// Scheduler roles: each the role of one schedule, which targets a scheduled catalog function.
    fn invoker_roles(&self, at: &IamAt<'_>, out: &mut Findings) -> Vec<InvokerRole> {
        let roles: Vec<&str> = blocks(at.doc, "aws_iam_role").into_iter().map(|(n, _)| n).collect();
        let mut found = Vec::new();
        for (name, s) in blocks(at.doc, "aws_scheduler_schedule") {
            let address = format!("aws_scheduler_schedule.{name}");
            let target = &s["target"];
            let target = if target.is_array() { &target[0] } else { target };
            let function = target["arn"]
                .as_str()
                .and_then(whole_ref)
                .filter(|(ty, _, attr)| *ty == "aws_lambda_alias" && *attr == "arn")
                .and_then(|(_, f, _)| at.catalog.get(f).copied());
            let Some(function) = function.filter(|f| settings(f).is_some()) else {
                out.add(
                    &address,
                    "-",
                    "schedule-target",
                    "a schedule must target a scheduled function of the catalog".into(),
                );
                continue;
            };
            let role = target["role_arn"].as_str().and_then(whole_ref).filter(|(ty, r, _)| {
                *ty == "aws_iam_role" && *r == names::scheduler_role_local(&function) && roles.contains(r)
            });
            match role {
                Some((_, role, _)) => found.push(InvokerRole {
                    role: role.to_owned(),
                    used_by: address,
                    function,
                    service: "scheduler.amazonaws.com",
                    account_bound: true,
                    grants: grants::of_scheduler(&function, at.settings),
                }),
                None => out.add(
                    &address,
                    "-",
                    "schedule-role",
                    format!("the schedule must invoke through {}'s own scheduler role", function.binary),
                ),
            }
        }
        found
    }

    fn check_permission(&self, address: &str, _p: &Value, target: &Function, _apis: &[&str], out: &mut Findings) {
        out.add(
            address,
            "-",
            "permission-principal",
            format!(
                "{} is started by its schedule, through the scheduler's own role: nothing may hold a permission to invoke it",
                target.binary
            ),
        );
    }

    fn alarm_count(&self) -> usize {
        // Crashes, duration, throttles, its dead letters, answers that looked wrong.
        5
    }

    fn verify(&self, state: &dyn State, f: &Function) -> Vec<String> {
        let Some(s) = settings(f) else { return vec![not_a_schedule(f).to_string()] };
        let address = format!("aws_lambda_function.{}", names::local(f));
        let found = (|| -> Result<Vec<String>, String> {
            let alias = state.values("aws_lambda_alias", &names::local(f))?;
            let schedule = state.values("aws_scheduler_schedule", &names::local(f))?;
            let role = state.values("aws_iam_role", &names::scheduler_role_local(f))?;
            let target = &schedule["target"][0];
            let mut problems = Vec::new();
            if target["arn"] != alias["arn"] || target["role_arn"] != role["arn"] {
                problems.push(format!("{address}: its schedule does not invoke it through its own role"));
            }
            if schedule["schedule_expression_timezone"] != s.time_zone {
                problems.push(format!("{address}: its schedule is not in {}", s.time_zone));
            }
            Ok(problems)
        })();
        found.unwrap_or_else(|missing| vec![missing])
    }

    fn local_description(&self, f: &Function) -> Option<String> {
        settings(f).map(|s| {
            format!("{} runs {} ({}) — now: cargo xtask dev-run {}", f.binary, s.expression, s.time_zone, f.binary)
        })
    }
}
