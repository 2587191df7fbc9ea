//! The names the handlers' metrics are emitted under and the alarms and dashboard read: one vocabulary shared by
//! both sides, so a widget or an alarm can only name a metric that exists.
//!
//! Every request writes one log line in CloudWatch Embedded Metric Format (org-common's `metrics`), in namespace
//! [`namespace`]`(env)`, with the dimension sets [`DIMENSION_SETS`] and the metrics [`METRICS`].

/// The metrics namespace of an environment: `Career/dev`.
pub fn namespace(env: &str) -> String {
    format!("Career/{env}")
}

/// Dimension names.
pub const MODULE: &str = "Module";
pub const FUNCTION: &str = "Function";
pub const ROUTE: &str = "Route";

/// The dimension sets every request line declares: per function (alarms, dashboard) and per route (drill-down).
pub const DIMENSION_SETS: [&[&str]; 2] = [&[MODULE, FUNCTION], &[MODULE, FUNCTION, ROUTE]];

/// One request.
pub const REQUESTS: &str = "Requests";
/// One when the answer was 4xx.
pub const CLIENT_ERRORS: &str = "4xx";
/// One when the answer was 5xx (this function's own failures and its dependencies').
pub const SERVER_ERRORS: &str = "5xx";
/// One when the answer was 502/503/504: a dependency failed, not this function.
pub const DEPENDENCY_ERRORS: &str = "DependencyErrors";
/// Milliseconds from the event to the answer.
pub const LATENCY: &str = "Latency";

/// Every metric with its CloudWatch unit.
pub const METRICS: [(&str, &str); 5] = [
    (REQUESTS, "Count"),
    (CLIENT_ERRORS, "Count"),
    (SERVER_ERRORS, "Count"),
    (DEPENDENCY_ERRORS, "Count"),
    (LATENCY, "Milliseconds"),
];

/// The `Function` dimension's value for a catalog function (its name inside its module).
pub fn function_dimension(function: &crate::Function) -> &'static str {
    function.name
}
