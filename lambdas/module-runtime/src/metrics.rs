//! The request line: one JSON object per request on stdout, which CloudWatch Logs stores and, because it carries
//! an `_aws` member in CloudWatch Embedded Metric Format, turns into metrics with no API call and no extra IAM.
//!
//! Namespace `Career/<ENVIRONMENT>`; the dimension set `[Module, Function]` (what the alarms and the dashboard
//! read; the route is a property of the line, not a dimension, see `route_registry::telemetry::DIMENSION_SETS`);
//! metrics `Requests`, `4xx`, `5xx`, `DependencyErrors` (the 502/503/504 part
//! of `5xx`: a dependency failed, not this function) and `Latency` in milliseconds. The names are the catalog's
//! (`route_registry::telemetry`), which the stacks' alarms and dashboard read too. The line keeps the fields the
//! saved Logs Insights queries read: `level`, `message`, `request_id`, `endpoint`, `user_email`, `status`,
//! `duration`, `error`. [`spec`] checks a line against the EMF specification, for tests.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::ApiError;

use route_registry::telemetry::{
    namespace, CLIENT_ERRORS, DEPENDENCY_ERRORS, DIMENSION_SETS, FUNCTION, LATENCY, METRICS, MODULE, REQUESTS, ROUTE,
    SERVER_ERRORS,
};

/// One request, as the line records it.
#[derive(Debug)]
pub struct Record<'a> {
    pub module: &'a str,
    pub function: &'a str,
    /// The route key (`GET /organizations`), or `unmatched`.
    pub route: &'a str,
    pub request_id: &'a str,
    pub user_email: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub error: Option<&'a ApiError>,
}

/// The line for one request.
pub fn line(record: &Record<'_>, env: &str, timestamp_ms: u64) -> Value {
    let (level, message) = level_and_message(record);
    let mut line = json!({
        "level": level,
        "message": message,
        "request_id": record.request_id,
        "endpoint": record.route,
        "user_email": record.user_email,
        "status": record.status,
        "duration": record.latency_ms,
        MODULE: record.module,
        FUNCTION: record.function,
        ROUTE: record.route,
        REQUESTS: 1,
        CLIENT_ERRORS: u8::from((400..500).contains(&record.status)),
        SERVER_ERRORS: u8::from(record.status >= 500),
        DEPENDENCY_ERRORS: u8::from(record.error.is_some_and(ApiError::is_dependency_failure)),
        LATENCY: record.latency_ms,
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace(env),
                "Dimensions": DIMENSION_SETS,
                "Metrics": METRICS.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        },
    });
    if let Some(e) = record.error {
        line["error"] = json!(e.log_detail());
        line["error_kind"] = json!(e.kind());
    }
    line
}

fn level_and_message(record: &Record<'_>) -> (&'static str, &'static str) {
    match record.error {
        None => ("INFO", "request served"),
        Some(e) if e.status() >= 500 => ("ERROR", "request failed"),
        Some(_) => ("WARN", "request refused"),
    }
}

/// Lines captured instead of printed (tests), see [`capture`].
static CAPTURED: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// From now on, lines are kept in memory instead of printed (for tests: nothing reaches the test output, and the
/// lines can be checked with [`take_captured`]).
pub fn capture() {
    if let Ok(mut c) = CAPTURED.lock() {
        c.get_or_insert_with(Vec::new);
    }
}

/// The lines captured so far (emptying the buffer).
pub fn take_captured() -> Vec<String> {
    CAPTURED.lock().map(|mut c| c.as_mut().map(std::mem::take).unwrap_or_default()).unwrap_or_default()
}

/// The line of one request as text: what [`line()`] describes, serialized straight from borrowed fields (half the cost
/// of building the JSON tree first; BENCHMARKS.md, "Handler overhead"). A test holds the two to the same document.
pub fn render(record: &Record<'_>, namespace: &str, timestamp_ms: u64) -> String {
    use serde::Serialize;

    #[derive(Serialize)]
    struct MetricDef {
        #[serde(rename = "Name")]
        name: &'static str,
        #[serde(rename = "Unit")]
        unit: &'static str,
    }
    #[derive(Serialize)]
    struct Directive<'a> {
        #[serde(rename = "Namespace")]
        namespace: &'a str,
        #[serde(rename = "Dimensions")]
        dimensions: &'static [&'static [&'static str]],
        #[serde(rename = "Metrics")]
        metrics: [MetricDef; 5],
    }
    #[derive(Serialize)]
    struct Aws<'a> {
        #[serde(rename = "Timestamp")]
        timestamp: u64,
        #[serde(rename = "CloudWatchMetrics")]
        directives: [Directive<'a>; 1],
    }
    // The member names are the catalog's telemetry names (a test compares with `line`, which uses the constants).
    #[derive(Serialize)]
    struct Line<'a> {
        level: &'static str,
        message: &'static str,
        request_id: &'a str,
        endpoint: &'a str,
        user_email: &'a str,
        status: u16,
        duration: f64,
        #[serde(rename = "Module")]
        module: &'a str,
        #[serde(rename = "Function")]
        function: &'a str,
        #[serde(rename = "Route")]
        route: &'a str,
        #[serde(rename = "Requests")]
        requests: u8,
        #[serde(rename = "4xx")]
        client_errors: u8,
        #[serde(rename = "5xx")]
        server_errors: u8,
        #[serde(rename = "DependencyErrors")]
        dependency_errors: u8,
        #[serde(rename = "Latency")]
        latency: f64,
        #[serde(rename = "_aws")]
        aws: Aws<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_kind: Option<&'static str>,
    }
    let (level, message) = level_and_message(record);
    let unit = |i: usize| METRICS[i];
    let line = Line {
        level,
        message,
        request_id: record.request_id,
        endpoint: record.route,
        user_email: record.user_email,
        status: record.status,
        duration: record.latency_ms,
        module: record.module,
        function: record.function,
        route: record.route,
        requests: 1,
        client_errors: u8::from((400..500).contains(&record.status)),
        server_errors: u8::from(record.status >= 500),
        dependency_errors: u8::from(record.error.is_some_and(ApiError::is_dependency_failure)),
        latency: record.latency_ms,
        aws: Aws {
            timestamp: timestamp_ms,
            directives: [Directive {
                namespace,
                dimensions: &DIMENSION_SETS,
                metrics: [0, 1, 2, 3, 4].map(|i| MetricDef { name: unit(i).0, unit: unit(i).1 }),
            }],
        },
        error: record.error.map(ApiError::log_detail),
        error_kind: record.error.map(ApiError::kind),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

/// The environment's metric namespace, read once per container.
fn namespace_of_this_environment() -> &'static str {
    static NAMESPACE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAMESPACE.get_or_init(|| namespace(&std::env::var("ENVIRONMENT").unwrap_or_else(|_| "local".into())))
}

/// Writes the line of one request.
pub fn emit(record: &Record<'_>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let text = render(record, namespace_of_this_environment(), now);
    if captured(&text) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Keeps `text` when lines are being captured (see [`capture`]); false when it must be printed.
pub fn captured(text: &str) -> bool {
    if let Ok(mut captured) = CAPTURED.lock() {
        if let Some(lines) = captured.as_mut() {
            lines.push(text.to_owned());
            return true;
        }
    }
    false
}

/// The EMF specification's rules for one log line, as a check (CloudWatch silently drops a line that breaks them).
pub mod spec {
    use serde_json::Value;

    /// The units CloudWatch accepts.
    pub const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];

    fn ascii_name(s: &str, max: usize) -> bool {
        !s.is_empty()
            && s.len() <= max
            && s.is_ascii()
            && !s.starts_with(':')
            && !s.chars().any(|c| c.is_ascii_control())
    }

    /// Checks a line (the whole log message) against the specification; the error names the broken rule.
    pub fn check(text: &str) -> Result<(), String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("not one JSON object: {e}"))?;
        let root = root.as_object().ok_or("the root is not an object")?;
        let aws = root.get("_aws").and_then(Value::as_object).ok_or("no _aws object")?;
        for key in aws.keys() {
            if key != "Timestamp" && key != "CloudWatchMetrics" && key != "LogGroupName" && key != "LogStreamName" {
                return Err(format!("_aws has an unknown member {key}"));
            }
        }
        let timestamp =
            aws.get("Timestamp").and_then(Value::as_u64).ok_or("_aws.Timestamp is not a non-negative integer")?;
        if timestamp < 1_000_000_000_000 {
            return Err("_aws.Timestamp must be milliseconds since the epoch".into());
        }
        let directives =
            aws.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("CloudWatchMetrics is not an array")?;
        if directives.is_empty() {
            return Err("CloudWatchMetrics is empty".into());
        }
        for d in directives {
            let d = d.as_object().ok_or("a MetricDirective is not an object")?;
            let namespace = d.get("Namespace").and_then(Value::as_str).ok_or("Namespace is not a string")?;
            if !ascii_name(namespace, 255) {
                return Err(format!("bad Namespace {namespace:?}"));
            }
            let sets = d.get("Dimensions").and_then(Value::as_array).ok_or("Dimensions is not an array")?;
            for set in sets {
                let set = set.as_array().ok_or("a DimensionSet is not an array")?;
                if set.len() > 30 {
                    return Err("a DimensionSet has more than 30 keys".into());
                }
                for key in set {
                    let key = key.as_str().ok_or("a dimension key is not a string")?;
                    if !ascii_name(key, 255) {
                        return Err(format!("bad dimension name {key:?}"));
                    }
                    let value =
                        root.get(key).and_then(Value::as_str).ok_or(format!("dimension {key} has no string value"))?;
                    if !ascii_name(value, 1024) || value.trim().is_empty() {
                        return Err(format!("dimension {key} has a bad value {value:?}"));
                    }
                }
            }
            let metrics = d.get("Metrics").and_then(Value::as_array).ok_or("Metrics is not an array")?;
            if metrics.is_empty() || metrics.len() > 100 {
                return Err("a directive needs 1 to 100 metrics".into());
            }
            for m in metrics {
                let m = m.as_object().ok_or("a MetricDefinition is not an object")?;
                let name = m.get("Name").and_then(Value::as_str).ok_or("a metric has no Name")?;
                if !ascii_name(name, 255) {
                    return Err(format!("bad metric name {name:?}"));
                }
                if let Some(unit) = m.get("Unit") {
                    if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                        return Err(format!("metric {name} has an unknown Unit {unit}"));
                    }
                }
                if let Some(res) = m.get("StorageResolution") {
                    if res != 1 && res != 60 {
                        return Err(format!("metric {name}: StorageResolution must be 1 or 60"));
                    }
                }
                match root.get(name) {
                    Some(Value::Number(_)) => {}
                    Some(Value::Array(values)) if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                    _ => return Err(format!("metric {name} has no numeric value at the root")),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Dependency;

    fn record(status: u16, error: Option<&ApiError>) -> Value {
        let r = Record {
            module: "org-module",
            function: "orgs",
            route: "GET /organizations",
            request_id: "r-1",
            user_email: "a@example.com",
            status,
            latency_ms: 3.25,
            error,
        };
        line(&r, "dev", 1_795_978_800_000)
    }

    #[test]
    fn lines_follow_the_specification_and_count_failures_apart() {
        let ok = record(200, None);
        spec::check(&ok.to_string()).unwrap();
        assert_eq!(
            (ok["Requests"].as_u64(), ok["5xx"].as_u64(), ok["level"].as_str()),
            (Some(1), Some(0), Some("INFO"))
        );
        let down =
            ApiError::Unavailable { dependency: Dependency::Database, retry_after_s: 5, detail: "refused".into() };
        let failed = record(503, Some(&down));
        spec::check(&failed.to_string()).unwrap();
        assert_eq!((failed["5xx"].as_u64(), failed["DependencyErrors"].as_u64()), (Some(1), Some(1)));
        assert_eq!(failed["level"], "ERROR");
        let bug = record(500, Some(&ApiError::Internal("x".into())));
        assert_eq!((bug["5xx"].as_u64(), bug["DependencyErrors"].as_u64()), (Some(1), Some(0)));
        let refused = record(404, Some(&ApiError::NotFound("no".into())));
        assert_eq!((refused["4xx"].as_u64(), refused["level"].as_str()), (Some(1), Some("WARN")));
        assert_eq!(ok["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Career/dev");
    }

    #[test]
    fn the_rendered_line_is_the_described_line() {
        let down = ApiError::Timeout { dependency: Dependency::Database, detail: "slow".into() };
        for (status, error) in [(200, None), (404, Some(&ApiError::NotFound("no".into()))), (504, Some(&down))] {
            let r = Record {
                module: "org-module",
                function: "orgs",
                route: "GET /organizations",
                request_id: "r-1",
                user_email: "a@example.com",
                status,
                latency_ms: 1.5,
                error,
            };
            let text = render(&r, &namespace("dev"), 1_795_978_800_000);
            spec::check(&text).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), line(&r, "dev", 1_795_978_800_000), "{text}");
        }
    }

    #[test]
    fn the_checker_catches_what_cloudwatch_drops() {
        let good = record(200, None);
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            f(&mut v);
            spec::check(&v.to_string()).unwrap_err()
        };
        assert!(broken(&|v| v["_aws"]["Timestamp"] = json!("now")).contains("Timestamp"));
        assert!(broken(&|v| v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("ms")).contains("Unit"));
        assert!(broken(&|v| v["Function"] = json!(5)).contains("Function"));
        assert!(broken(&|v| v["Latency"] = json!("3 ms")).contains("Latency"));
        assert!(broken(&|v| v["Module"] = json!("ümlaut-module")).contains("Module"));
        assert!(broken(&|v| {
            v.as_object_mut().unwrap().remove("Module");
        })
        .contains("Module"));
        assert!(spec::check("{} trailing").is_err());
    }
}
