//! The names the handlers' metrics are emitted under and the alarms and dashboard read: one vocabulary shared by
//! both sides, so a widget or an alarm can only name a metric that exists.
//!
//! Every request writes one log line in CloudWatch Embedded Metric Format (module-runtime's `metrics`), in namespace
//! [`namespace`]`(env)`, with the dimension sets [`DIMENSION_SETS`] and the metrics [`METRICS`]. Every event a
//! function without a caller handles (a queue message, a scheduled run, a created object) writes one line with the
//! same dimensions and the metrics [`EVENT_METRICS`].

/// The metrics namespace of an environment: `Career/dev`.
pub fn namespace(env: &str) -> String {
    format!("Career/{env}")
}

/// Dimension names.
pub const MODULE: &str = "Module";
pub const FUNCTION: &str = "Function";
/// A property of the line, not a dimension (see [`DIMENSION_SETS`]).
pub const ROUTE: &str = "Route";

/// The dimension sets every request line declares: per function, which the alarms and the dashboard read.
///
/// Not per route: each metric × dimension combination is a billed custom metric ($0.30 a month), and a
/// `[Module, Function, Route]` set would add 5 metrics per route: with org-module's 19 routes, $28.50 a month per
/// environment, $114 for the four, more than the rest of dev's AWS bill (`cargo xtask cost dev`). The route stays a
/// property of the line ([`ROUTE`]), so the saved Logs Insights queries break any figure down by route for free.
pub const DIMENSION_SETS: [&[&str]; 1] = [&[MODULE, FUNCTION]];

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

/// One event handled (a message, a run, an object).
pub const EVENTS: &str = "Events";
/// One when handling it failed (it will be retried, or it went to the dead-letter queue).
pub const EVENT_FAILURES: &str = "EventFailures";
/// One when it had been delivered before (SQS delivers at least once; a failed run is retried).
pub const REDELIVERIES: &str = "Redeliveries";
/// Milliseconds from when the event was sent (or scheduled) to when handling started.
pub const EVENT_AGE: &str = "EventAge";
/// What handling the event did, in the handler's own unit (import lines handled, users deactivated, …).
pub const ITEMS: &str = "Items";
/// Answers from outside that looked wrong while handling the event (a page link that does not advance, a timestamp
/// in the future): the handler bounded what it did, and says so; each is named in the line's `anomalies`.
pub const ANOMALIES: &str = "Anomalies";

/// Every metric of an event line with its CloudWatch unit ([`LATENCY`] is the handling time).
pub const EVENT_METRICS: [(&str, &str); 7] = [
    (EVENTS, "Count"),
    (EVENT_FAILURES, "Count"),
    (REDELIVERIES, "Count"),
    (EVENT_AGE, "Milliseconds"),
    (LATENCY, "Milliseconds"),
    (ITEMS, "Count"),
    (ANOMALIES, "Count"),
];

/// Every metric of a request line with its CloudWatch unit.
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
