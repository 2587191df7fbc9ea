//! Alarms that reach someone: every alarm notifies the environment's alarm topic on alarm and on recovery, and its
//! description says what happened and where to look. Every function has crashes (what a crash means is its trigger
//! kind's to say), duration near the timeout and throttles; the kinds add theirs with the helpers here (the 5xx rate
//! of what callers saw, dead letters, a queue's oldest message); the API has its 5xx rate and p99 latency.

use indexmap::IndexMap;
use infra_dsl::aws::cloudwatch_metric_alarm::{Metric, MetricQuery};
use infra_dsl::aws::{Apigatewayv2Api, CloudwatchMetricAlarm, SqsQueue};
use infra_dsl::{DslError, Expr, Ref, Stack};
use route_registry::telemetry;

use crate::model::{function_tags, DeployedFunction, Platform, Tags};
use crate::names;

/// A metric alarm with the platform's actions: the topic on alarm and on recovery.
pub fn alarm(platform: &Platform, local: String, name: String, description: String) -> CloudwatchMetricAlarm {
    CloudwatchMetricAlarm::new(local, name, "GreaterThanThreshold", 1u32)
        .alarm_description(description)
        .treat_missing_data("notBreaching")
        .alarm_actions([platform.alarm_topic.arn()])
        .ok_actions([platform.alarm_topic.arn()])
}

/// A metric input of metric math (not returned).
pub fn input(id: &str, metric: Metric) -> MetricQuery {
    MetricQuery::new(id).metric(metric).return_data(false)
}

/// The 5xx rate in percent of `errors` over `requests`, 0 below `min` requests (returned: the alarm compares it).
fn rate_of_errors(min: u32) -> MetricQuery {
    MetricQuery::new("rate")
        .expression(format!("IF(requests >= {min}, 100 * errors / requests, 0)"))
        .label("5xx rate (%)")
        .return_data(true)
}

/// The 5xx rate of a function's answers, from its request lines' metrics, with a minimum request count: for
/// functions that answer requests (module HTTP functions; the authorizer writes no request lines).
pub fn add_request_rate(stack: &mut Stack, platform: &Platform, d: &mut DeployedFunction) -> Result<(), DslError> {
    let settings = &platform.settings;
    let f = d.function;
    let local = names::local(&f);
    let name = &d.name;
    let query_errors = format!("{}/errors", f.module);
    let app_dims: IndexMap<String, Expr> = [
        (telemetry::MODULE.to_owned(), Expr::lit(f.module)),
        (telemetry::FUNCTION.to_owned(), Expr::lit(telemetry::function_dimension(&f))),
    ]
    .into_iter()
    .collect();
    let metric = |metric_name: &str| {
        Metric::new(metric_name, 300, "Sum")
            .namespace(telemetry::namespace(&settings.stage))
            .dimensions(app_dims.clone())
    };
    let min = settings.alarm_min_requests;
    let rate = stack.add(
        alarm(
            platform,
            format!("{local}_5xx_rate"),
            format!("{name}-5xx-rate"),
            format!(
                "More than 5% of requests to {name} answered 5xx in 5 minutes (with at least {min} requests). Run the saved query \"{query_errors}\"; the dashboard's DependencyErrors tells a failing database or identity provider from a bug in the function."
            ),
        )
        .threshold(5.0)
        .metric_query(vec![
            input("errors", metric(telemetry::SERVER_ERRORS)),
            input("requests", metric(telemetry::REQUESTS)),
            rate_of_errors(min),
        ])
        .tags(function_tags(&f)),
    )?;
    d.alarmed(rate);
    Ok(())
}

/// Answers from outside that looked wrong to a function without a caller (its event lines' `Anomalies`: a page link
/// that does not advance, a timestamp in the future): the function bounded what it did, and someone should look at
/// the system that answered.
pub fn add_anomalies(stack: &mut Stack, platform: &Platform, d: &mut DeployedFunction) -> Result<(), DslError> {
    let f = d.function;
    let name = d.name.clone();
    let dims: IndexMap<String, Expr> = [
        (telemetry::MODULE.to_owned(), Expr::lit(f.module)),
        (telemetry::FUNCTION.to_owned(), Expr::lit(telemetry::function_dimension(&f))),
    ]
    .into_iter()
    .collect();
    let a = stack.add(
        alarm(
            platform,
            format!("{}_anomalies", names::local(&f)),
            format!("{name}-anomalies"),
            format!(
                "{name} found answers from outside that looked wrong (its event lines' `anomalies` name them) and bounded what it did about them. Run the saved query \"{}/failed events\" or read /aws/lambda/{name} for `anomalies`, and check the system that answered.",
                f.module
            ),
        )
        .namespace(telemetry::namespace(&platform.settings.stage))
        .metric_name(telemetry::ANOMALIES)
        .statistic("Sum")
        .period(300u32)
        .dimensions(dims)
        .threshold(0.0)
        .tags(function_tags(&f)),
    )?;
    d.alarmed(a);
    Ok(())
}

/// Crashes (`AWS/Lambda` Errors: what one is, `failed`, is the function's trigger kind's to say), duration at five
/// sixths of the timeout, and throttles (at `reserved`, the function's reserved concurrency).
pub fn add_lambda(
    stack: &mut Stack,
    platform: &Platform,
    d: &mut DeployedFunction,
    failed: &str,
    reserved: u32,
) -> Result<(), DslError> {
    let settings = &platform.settings;
    let f = d.function;
    let local = names::local(&f);
    let name = d.name.clone();
    let tags: Tags = function_tags(&f);
    let timeout_s = settings.lambda_timeout_s.unwrap_or(f.timeout_s);
    let dims: IndexMap<String, Expr> = [("FunctionName".to_owned(), d.lambda.function_name())].into_iter().collect();
    let query_errors = format!("{}/errors", f.module);
    let lambda_metric = |alarm: CloudwatchMetricAlarm, metric_name: &str, statistic: &str| {
        alarm
            .namespace("AWS/Lambda")
            .metric_name(metric_name)
            .statistic(statistic)
            .period(300u32)
            .dimensions(dims.clone())
            .tags(tags.clone())
    };
    let crashes = stack.add(lambda_metric(
        alarm(
            platform,
            format!("{local}_crashes"),
            format!("{name}-crashes"),
            format!(
                "{name} failed an invocation ({failed}). Look for REPORT lines with a status in /aws/lambda/{name}, or run \"{query_errors}\"."
            ),
        )
        .threshold(0.0),
        "Errors",
        "Sum",
    ))?;
    // Alarm at five sixths of the timeout: 12.5 s for 15 s functions.
    let duration_threshold_ms = f64::from(timeout_s) * 1000.0 * 5.0 / 6.0;
    let duration = stack.add(lambda_metric(
        alarm(
            platform,
            format!("{local}_duration"),
            format!("{name}-duration"),
            format!(
                "{name} ran longer than {} s (its timeout is {timeout_s} s): a dependency is slow. Run \"{}/slow requests\".",
                duration_threshold_ms / 1000.0,
                f.module
            ),
        )
        .threshold(duration_threshold_ms.round()),
        "Duration",
        "Maximum",
    ))?;
    let throttles = stack.add(lambda_metric(
        alarm(
            platform,
            format!("{local}_throttles"),
            format!("{name}-throttles"),
            format!(
                "{name} was throttled: it reached its reserved concurrency ({reserved}), or the account's. Check the dashboard's concurrency and latency: a hung dependency holds requests."
            ),
        )
        .threshold(0.0),
        "Throttles",
        "Sum",
    ))?;
    for a in [crashes, duration, throttles] {
        d.alarmed(a);
    }
    Ok(())
}

/// An alarm on an SQS metric of one queue.
pub fn queue_alarm(
    platform: &Platform,
    d: &DeployedFunction,
    queue: &Ref<SqsQueue>,
    suffix: &str,
    metric_name: &str,
    threshold: f64,
    description: String,
) -> CloudwatchMetricAlarm {
    let dims: IndexMap<String, Expr> = [("QueueName".to_owned(), queue.name())].into_iter().collect();
    alarm(
        platform,
        format!("{}_{}", names::local(&d.function), suffix.replace('-', "_")),
        format!("{}-{suffix}", d.name),
        description,
    )
    .namespace("AWS/SQS")
    .metric_name(metric_name)
    .statistic("Maximum")
    .period(300u32)
    .dimensions(dims)
    .threshold(threshold)
    .tags(function_tags(&d.function))
}

/// Messages in a function's dead-letter queue (`what` they are, in its kind's words): work that was given up on.
/// Someone must look, fix and redrive.
pub fn add_dead_letters(
    stack: &mut Stack,
    platform: &Platform,
    d: &mut DeployedFunction,
    dlq: &Ref<SqsQueue>,
    what: &str,
) -> Result<(), DslError> {
    let name = &d.name;
    let a = stack.add(queue_alarm(
        platform,
        d,
        dlq,
        "dead-letters",
        "ApproximateNumberOfMessagesVisible",
        0.0,
        format!(
            "{name}'s dead-letter queue {name}-dlq holds messages: {what}. The saved query \"{module}/failed events\" lists the failed events with their errors (an import names its task). Read the messages (aws sqs receive-message), find the cause in /aws/lambda/{name} (saved query \"{module}/errors\"), fix it, then move them back (aws sqs start-message-move-task; docs/operations.md, \"Dead letters\"): the work resumes where it stopped.",
            module = d.function.module
        ),
    ))?;
    d.alarmed(a);
    Ok(())
}

/// API Gateway's 5xx rate and p99 latency alarms.
pub fn add_api(
    stack: &mut Stack,
    platform: &Platform,
    api: &Ref<Apigatewayv2Api>,
) -> Result<Vec<Ref<CloudwatchMetricAlarm>>, DslError> {
    let settings = &platform.settings;
    let dims: IndexMap<String, Expr> =
        [("ApiId".to_owned(), api.id()), ("Stage".to_owned(), Expr::lit("$default"))].into_iter().collect();
    let metric = |name: &str| Metric::new(name, 300, "Sum").namespace("AWS/ApiGateway").dimensions(dims.clone());
    let tags: Tags = [("Module".to_owned(), "platform".to_owned())].into_iter().collect();
    let min = settings.alarm_min_requests;
    let prefix = &settings.name_prefix;
    let rate = stack.add(
        CloudwatchMetricAlarm::new("api_5xx_rate", format!("{prefix}-api-5xx-rate"), "GreaterThanThreshold", 1u32)
            .alarm_description(format!(
                "More than 5% of the API's answers were 5xx in 5 minutes (with at least {min} requests), the gateway's own failures included. The access log group /aws/apigateway/{prefix}-api has integrationError and authorizerError per request."
            ))
            .threshold(5.0)
            .metric_query(vec![input("errors", metric("5xx")), input("requests", metric("Count")), rate_of_errors(min)])
            .treat_missing_data("notBreaching")
            .alarm_actions([platform.alarm_topic.arn()])
            .ok_actions([platform.alarm_topic.arn()])
            .tags(tags.clone()),
    )?;
    // p99 over 2 s: the handlers answer in milliseconds, so this is a slow dependency or throttling.
    let latency = stack.add(
        CloudwatchMetricAlarm::new("api_latency_p99", format!("{prefix}-api-latency-p99"), "GreaterThanThreshold", 2u32)
            .alarm_description(
                "The API's p99 latency was over 2 s for 10 minutes: a slow dependency or throttling. The dashboard's per-function latency and DependencyErrors say which.".to_owned(),
            )
            .namespace("AWS/ApiGateway")
            .metric_name("Latency")
            .extended_statistic("p99")
            .period(300u32)
            .dimensions(dims)
            .threshold(2000.0)
            .treat_missing_data("notBreaching")
            .alarm_actions([platform.alarm_topic.arn()])
            .ok_actions([platform.alarm_topic.arn()])
            .tags(tags),
    )?;
    Ok(vec![rate, latency])
}
