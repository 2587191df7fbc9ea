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
use route_registry::telemetry;
use serde::Serialize;
use serde_json::{json, Value};

use crate::env::Settings;
use crate::model::{DeployedFunction, DeployedModule};
use crate::module::QUERIES;
use crate::triggers;

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

/// The grid being laid out: rows of equal-width widgets, top to bottom.
struct Grid {
    widgets: Vec<Widget>,
    y: u32,
}

impl Grid {
    fn row(&mut self, kind: &'static str, parts: Vec<Value>, height: u32) {
        let width = 24 / parts.len().max(1) as u32;
        for (i, properties) in parts.into_iter().enumerate() {
            self.widgets.push(Widget { kind, x: i as u32 * width, y: self.y, width, height, properties });
        }
        self.y += height;
    }
}

/// What every row reads: the region and the application metrics' namespace.
struct Rows<'a> {
    region: &'a str,
    namespace: String,
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
    let rows = Rows { region: s.region, namespace: telemetry::namespace(&s.stage) };
    let mut grid = Grid { widgets: Vec::new(), y: 0 };
    grid.row(
        "alarm",
        vec![json!({"title": "Alarms", "alarms": alarms.iter().map(|a| json!(a.arn())).collect::<Vec<_>>()})],
        4,
    );
    grid.row("metric", rows.api(api), 6);
    grid.row("metric", rows.function(authorizer, false), 6);
    if let Some(group) = schedules {
        grid.row("metric", rows.schedules(group), 6);
    }
    for m in modules {
        for d in &m.functions {
            grid.row("metric", rows.function(d, true), 6);
        }
        grid.row("log", vec![rows.cold_starts(m)], 6);
    }
    stack.add(CloudwatchDashboard::new(
        "main",
        Expr::json_document(&Dashboard { widgets: grid.widgets })?,
        format!("{}-platform", s.name_prefix),
    ))?;
    Ok(())
}

impl Rows<'_> {
    /// The API's requests, errors and latency.
    fn api(&self, api: &Ref<Apigatewayv2Api>) -> Vec<Value> {
        let dims = [("ApiId", json!(api.id())), ("Stage", json!("$default"))];
        vec![
            graph(
                "API: requests and errors".into(),
                self.region,
                vec![
                    metric("AWS/ApiGateway", "Count", &dims, json!({"stat": "Sum", "label": "requests"})),
                    metric("AWS/ApiGateway", "4xx", &dims, json!({"stat": "Sum", "label": "4xx"})),
                    metric("AWS/ApiGateway", "5xx", &dims, json!({"stat": "Sum", "label": "5xx"})),
                ],
            ),
            self.percentiles("API: latency".into(), "AWS/ApiGateway", "Latency", &dims),
        ]
    }

    /// p50, p99 and the maximum of a metric.
    fn percentiles(&self, title: String, namespace: &str, name: &str, dims: &[(&str, Value)]) -> Value {
        graph(
            title,
            self.region,
            ["p50", "p99", "Maximum"]
                .iter()
                .map(|stat| metric(namespace, name, dims, json!({"stat": stat, "label": stat})))
                .collect(),
        )
    }

    /// Sums of application metrics, one line each.
    fn sums(&self, title: String, names: &[&str], dims: &[(&str, Value)]) -> Value {
        graph(
            title,
            self.region,
            names.iter().map(|m| metric(&self.namespace, m, dims, json!({"stat": "Sum", "label": m}))).collect(),
        )
    }

    /// One function's row: the application metrics its request or event lines emit (module functions, `app`) or
    /// Lambda's own (the authorizer), its queues for those without a caller, then throttles and concurrency.
    fn function(&self, d: &DeployedFunction, app: bool) -> Vec<Value> {
        let fn_dims = [("FunctionName", json!(d.name))];
        let dims = [
            (telemetry::MODULE, json!(d.function.module)),
            (telemetry::FUNCTION, json!(telemetry::function_dimension(&d.function))),
        ];
        let mut parts = match (app, d.function.trigger.is_synchronous()) {
            (true, false) => self.events(d, &dims),
            (true, true) => vec![
                self.sums(
                    format!("{}: requests and errors", d.name),
                    &[
                        telemetry::REQUESTS,
                        telemetry::CLIENT_ERRORS,
                        telemetry::SERVER_ERRORS,
                        telemetry::DEPENDENCY_ERRORS,
                    ],
                    &dims,
                ),
                self.percentiles(format!("{}: latency (ms)", d.name), &self.namespace, telemetry::LATENCY, &dims),
            ],
            (false, _) => vec![
                graph(
                    format!("{}: invocations and errors", d.name),
                    self.region,
                    vec![
                        metric("AWS/Lambda", "Invocations", &fn_dims, json!({"stat": "Sum"})),
                        metric("AWS/Lambda", "Errors", &fn_dims, json!({"stat": "Sum"})),
                    ],
                ),
                self.percentiles(format!("{}: duration (ms)", d.name), "AWS/Lambda", "Duration", &fn_dims),
            ],
        };
        parts.push(graph(
            format!("{}: throttles and concurrency", d.name),
            self.region,
            vec![
                metric("AWS/Lambda", "Throttles", &fn_dims, json!({"stat": "Sum"})),
                metric("AWS/Lambda", "ConcurrentExecutions", &fn_dims, json!({"stat": "Maximum"})),
            ],
        ));
        parts
    }

    /// A function without a caller: its events, their handling time and age, and its queues as its trigger kind has
    /// them (the queue it takes from, its dead-letter queue).
    fn events(&self, d: &DeployedFunction, dims: &[(&str, Value)]) -> Vec<Value> {
        let depth = triggers::of(&d.function.trigger)
            .queue_depths(d)
            .into_iter()
            .map(|(name, label)| {
                metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    &[("QueueName", json!(name))],
                    json!({"stat": "Maximum", "label": label}),
                )
            })
            .collect();
        vec![
            self.sums(
                format!("{}: events", d.name),
                &[telemetry::EVENTS, telemetry::EVENT_FAILURES, telemetry::REDELIVERIES],
                dims,
            ),
            graph(
                format!("{}: handling time and age (ms)", d.name),
                self.region,
                vec![
                    metric(&self.namespace, telemetry::LATENCY, dims, json!({"stat": "p99", "label": "handling p99"})),
                    metric(&self.namespace, telemetry::EVENT_AGE, dims, json!({"stat": "Maximum", "label": "age max"})),
                ],
            ),
            graph(format!("{}: queues", d.name), self.region, depth),
        ]
    }

    /// The schedules' runs, failed and dropped.
    fn schedules(&self, group: &Ref<SchedulerScheduleGroup>) -> Vec<Value> {
        let dims = [("ScheduleGroup", json!(group.name()))];
        vec![graph(
            "Schedules: runs, failed and dropped".into(),
            self.region,
            ["InvocationAttemptCount", "TargetErrorCount", "InvocationDroppedCount"]
                .iter()
                .map(|m| metric("AWS/Scheduler", m, &dims, json!({"stat": "Sum", "label": m})))
                .collect(),
        )]
    }

    /// A module's cold starts, from Lambda's `REPORT` lines.
    fn cold_starts(&self, m: &DeployedModule) -> Value {
        let (_, _, cold_starts) = QUERIES[3];
        let sources: Vec<String> = m.functions.iter().map(|d| format!("SOURCE '/aws/lambda/{}'", d.name)).collect();
        json!({
            "title": format!("{}: cold starts", m.module.name),
            "region": self.region,
            "view": "timeSeries",
            "query": format!("{} | {}", sources.join(" | "), cold_starts.replace('\n', " ")),
        })
    }
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
