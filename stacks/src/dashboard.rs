//! The environment's CloudWatch dashboard, generated from the typed model: the alarms' states; the API's requests,
//! errors and latency; for every function of every module a row by what starts it (HTTP: requests, 4xx/5xx with
//! dependency failures apart, p50/p99/max latency; queue: messages handled, failed and redelivered, their age, and
//! the queue and dead-letter queue depths; schedule and objects: runs, failures, duration and dead letters), then
//! throttles and concurrency; the schedules' failed and dropped runs; and each module's cold starts (from Lambda's
//! `REPORT` lines). A new module gets its widgets because it is in the catalog; nobody writes one by hand.
//!
//! Metric names and dimensions come from `route_registry::telemetry`, the same constants the handlers emit with,
//! and a test checks every widget against what the stacks and the handlers actually produce.

use infra_dsl::aws::{Apigatewayv2Api, CloudwatchDashboard, CloudwatchMetricAlarm, SchedulerScheduleGroup};
use infra_dsl::{DslError, Expr, Ref, Stack};
use route_registry::{telemetry, Trigger};
use serde::Serialize;
use serde_json::{json, Value};

use crate::env::Settings;
use crate::function::DeployedFunction;
use crate::module::{DeployedModule, QUERIES};

/// One widget of the grid (24 columns wide).
#[derive(Debug, Serialize)]
struct Widget {
    #[serde(rename = "type")]
    kind: &'static str,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    properties: Value,
}

#[derive(Debug, Serialize)]
struct Dashboard {
    widgets: Vec<Widget>,
}

/// A metric line of a widget: namespace, name, dimension pairs, then the rendering options.
fn metric(namespace: &str, name: &str, dims: &[(&str, Value)], options: Value) -> Value {
    let mut line = vec![json!(namespace), json!(name)];
    for (k, v) in dims {
        line.push(json!(k));
        line.push(v.clone());
    }
    line.push(options);
    Value::Array(line)
}

fn graph(title: String, region: &str, metrics: Vec<Value>) -> Value {
    json!({"title": title, "region": region, "view": "timeSeries", "stacked": false, "period": 300, "metrics": metrics})
}

/// Adds `aws_cloudwatch_dashboard.main`.
pub fn add(
    stack: &mut Stack,
    s: &Settings,
    api: &Ref<Apigatewayv2Api>,
    authorizer: &DeployedFunction,
    modules: &[DeployedModule],
    schedules: Option<&Ref<SchedulerScheduleGroup>>,
    alarms: &[Ref<CloudwatchMetricAlarm>],
) -> Result<(), DslError> {
    let region = s.region;
    let namespace = telemetry::namespace(s.env.as_str());
    let mut widgets = Vec::new();
    let mut y = 0;
    let mut row = |widgets: &mut Vec<Widget>, kind: &'static str, parts: Vec<Value>, height: u32| {
        let width = 24 / parts.len() as u32;
        for (i, properties) in parts.into_iter().enumerate() {
            widgets.push(Widget { kind, x: i as u32 * width, y, width, height, properties });
        }
        y += height;
    };

    row(
        &mut widgets,
        "alarm",
        vec![json!({"title": "Alarms", "alarms": alarms.iter().map(|a| json!(a.arn())).collect::<Vec<_>>()})],
        4,
    );

    let api_dims = [("ApiId", json!(api.id())), ("Stage", json!("$default"))];
    row(
        &mut widgets,
        "metric",
        vec![
            graph(
                "API: requests and errors".into(),
                region,
                vec![
                    metric("AWS/ApiGateway", "Count", &api_dims, json!({"stat": "Sum", "label": "requests"})),
                    metric("AWS/ApiGateway", "4xx", &api_dims, json!({"stat": "Sum", "label": "4xx"})),
                    metric("AWS/ApiGateway", "5xx", &api_dims, json!({"stat": "Sum", "label": "5xx"})),
                ],
            ),
            graph(
                "API: latency".into(),
                region,
                ["p50", "p99", "Maximum"]
                    .iter()
                    .map(|stat| metric("AWS/ApiGateway", "Latency", &api_dims, json!({"stat": stat, "label": stat})))
                    .collect(),
            ),
        ],
        6,
    );

    // One row per function: the application metrics its request or event lines emit (module functions) or
    // Lambda's own (the authorizer), its queues for queue-fed and asynchronous functions, then throttles and
    // concurrency.
    let lambda_parts = |d: &DeployedFunction, app: bool| -> Vec<Value> {
        let fn_dims = [("FunctionName", json!(d.name))];
        let mut parts = Vec::new();
        let dims = [
            (telemetry::MODULE, json!(d.function.module)),
            (telemetry::FUNCTION, json!(telemetry::function_dimension(&d.function))),
        ];
        let queue = |name: String| [("QueueName", json!(name))];
        let dlq = format!("{}-dlq", d.name);
        if app && !d.function.trigger.is_synchronous() {
            parts.push(graph(
                format!("{}: events", d.name),
                region,
                [telemetry::EVENTS, telemetry::EVENT_FAILURES, telemetry::REDELIVERIES]
                    .iter()
                    .map(|m| metric(&namespace, m, &dims, json!({"stat": "Sum", "label": m})))
                    .collect(),
            ));
            parts.push(graph(
                format!("{}: handling time and age (ms)", d.name),
                region,
                vec![
                    metric(&namespace, telemetry::LATENCY, &dims, json!({"stat": "p99", "label": "handling p99"})),
                    metric(&namespace, telemetry::EVENT_AGE, &dims, json!({"stat": "Maximum", "label": "age max"})),
                ],
            ));
            let mut depth = vec![metric(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                &queue(dlq),
                json!({"stat": "Maximum", "label": "dead letters"}),
            )];
            if let Trigger::Queue(_) = d.function.trigger {
                depth.insert(
                    0,
                    metric(
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        &queue(d.name.clone()),
                        json!({"stat": "Maximum", "label": "waiting"}),
                    ),
                );
            }
            parts.push(graph(format!("{}: queues", d.name), region, depth));
        } else if app {
            parts.push(graph(
                format!("{}: requests and errors", d.name),
                region,
                [telemetry::REQUESTS, telemetry::CLIENT_ERRORS, telemetry::SERVER_ERRORS, telemetry::DEPENDENCY_ERRORS]
                    .iter()
                    .map(|m| metric(&namespace, m, &dims, json!({"stat": "Sum", "label": m})))
                    .collect(),
            ));
            parts.push(graph(
                format!("{}: latency (ms)", d.name),
                region,
                ["p50", "p99", "Maximum"]
                    .iter()
                    .map(|stat| metric(&namespace, telemetry::LATENCY, &dims, json!({"stat": stat, "label": stat})))
                    .collect(),
            ));
        } else {
            parts.push(graph(
                format!("{}: invocations and errors", d.name),
                region,
                vec![
                    metric("AWS/Lambda", "Invocations", &fn_dims, json!({"stat": "Sum"})),
                    metric("AWS/Lambda", "Errors", &fn_dims, json!({"stat": "Sum"})),
                ],
            ));
            parts.push(graph(
                format!("{}: duration (ms)", d.name),
                region,
                ["p50", "p99", "Maximum"]
                    .iter()
                    .map(|stat| metric("AWS/Lambda", "Duration", &fn_dims, json!({"stat": stat, "label": stat})))
                    .collect(),
            ));
        }
        parts.push(graph(
            format!("{}: throttles and concurrency", d.name),
            region,
            vec![
                metric("AWS/Lambda", "Throttles", &fn_dims, json!({"stat": "Sum"})),
                metric("AWS/Lambda", "ConcurrentExecutions", &fn_dims, json!({"stat": "Maximum"})),
            ],
        ));
        parts
    };
    row(&mut widgets, "metric", lambda_parts(authorizer, false), 6);
    if let Some(group) = schedules {
        let dims = [("ScheduleGroup", json!(group.name()))];
        row(
            &mut widgets,
            "metric",
            vec![graph(
                "Schedules: runs, failed and dropped".into(),
                region,
                ["InvocationAttemptCount", "TargetErrorCount", "InvocationDroppedCount"]
                    .iter()
                    .map(|m| metric("AWS/Scheduler", m, &dims, json!({"stat": "Sum", "label": m})))
                    .collect(),
            )],
            6,
        );
    }
    for m in modules {
        for d in &m.functions {
            row(&mut widgets, "metric", lambda_parts(d, true), 6);
        }
        let (_, _, cold_starts) = QUERIES[3];
        let sources: Vec<String> = m.functions.iter().map(|d| format!("SOURCE '/aws/lambda/{}'", d.name)).collect();
        row(
            &mut widgets,
            "log",
            vec![json!({
                "title": format!("{}: cold starts", m.module.name),
                "region": region,
                "view": "timeSeries",
                "query": format!("{} | {}", sources.join(" | "), cold_starts.replace('\n', " ")),
            })],
            6,
        );
    }

    stack.add(CloudwatchDashboard::new(
        "main",
        Expr::json_document(&Dashboard { widgets })?,
        format!("{}-platform", s.name_prefix),
    ))?;
    Ok(())
}

/// A metric a widget names: namespace, name and dimension names (for the test that checks them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricRef {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

/// Every metric the dashboard body names.
pub fn metrics_of(body: &Value) -> Vec<MetricRef> {
    let mut out = Vec::new();
    for widget in body["widgets"].as_array().into_iter().flatten() {
        for line in widget["properties"]["metrics"].as_array().into_iter().flatten() {
            let items: Vec<&Value> = line.as_array().into_iter().flatten().filter(|v| !v.is_object()).collect();
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            if items.len() >= 2 {
                let dimensions =
                    items[2..].chunks(2).map(|p| (text(p[0]), p.get(1).map(|v| text(v)).unwrap_or_default())).collect();
                out.push(MetricRef { namespace: text(items[0]), name: text(items[1]), dimensions });
            }
        }
    }
    out
}
