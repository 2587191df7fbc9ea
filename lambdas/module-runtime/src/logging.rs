//! JSON log lines to stdout, one object per event (`level`, `message`, fields), for what happens outside a request:
//! configuration failures, for instance. The per-request line, with its metrics, is [`crate::metrics`]'s.
//!
//! Never logged: tokens, secrets, whole request bodies.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber; the level comes from `LOG_LEVEL` (DEBUG, INFO, WARNING, ERROR; default INFO).
pub fn init() {
    install(false);
}

/// The same subscriber, writing through the test harness so output is shown only for failing tests; request
/// lines are captured in memory (see [`crate::metrics::capture`]).
pub fn init_for_tests() {
    crate::metrics::capture();
    install(true);
}

fn install(test_writer: bool) {
    let level = match std::env::var("LOG_LEVEL").unwrap_or_default().to_ascii_uppercase().as_str() {
        "DEBUG" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" => "error",
        _ => "info",
    };
    // `try_init` so that a second call (tests, the local API) keeps the first subscriber instead of failing.
    let builder = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(EnvFilter::new(level));
    let _ = if test_writer { builder.with_test_writer().try_init() } else { builder.try_init() };
}
