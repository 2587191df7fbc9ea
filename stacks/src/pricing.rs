//! The price table and the traffic profile the cost model prices an environment with: list prices (dated), the
//! per-request figures the benchmarks measured, and the traffic. Data only; `review::cost` computes the estimate,
//! asking each trigger kind for its events.

use std::collections::BTreeMap;

use serde::Serialize;

/// List prices, us-east-1, as AWS publishes them on each service's pricing page (`aws.amazon.com/<service>/pricing`),
/// on-demand, first tier; checked 2026-11-30 (Lambda against the stored pricing page; the others as published in
/// 2025 and unchanged since, to our knowledge). The pricing API is not reachable offline: update this table, and
/// its date, when AWS changes a price.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Prices {
    pub date: &'static str,
    pub region: &'static str,
    pub lambda_request: f64,
    pub lambda_gb_second_arm64: f64,
    pub http_api_request: f64,
    pub logs_ingest_gb: f64,
    pub logs_store_gb_month: f64,
    pub alarm_metric_month: f64,
    pub custom_metric_month: f64,
    pub dashboard_month: f64,
    pub secret_month: f64,
    pub secret_api_call: f64,
    pub kms_key_month: f64,
    pub kms_request: f64,
    /// Requests with an asymmetric key (`Sign` with a service key).
    pub kms_asymmetric_request: f64,
    pub sqs_request: f64,
    pub scheduler_invocation: f64,
    pub xray_trace: f64,
    pub s3_gb_month: f64,
    pub s3_put: f64,
    pub s3_get: f64,
    pub sns_email: f64,
    /// Supabase Pro, per project and month.
    pub supabase_pro_month: f64,
    /// A Supabase preview branch, per hour it exists (Micro compute; Supabase's branching guide: no fixed fee,
    /// billed until removed).
    pub supabase_branch_hour: f64,
}

pub const PRICES: Prices = Prices {
    date: "2026-11-30",
    region: "us-east-1",
    lambda_request: 0.20 / 1e6,
    lambda_gb_second_arm64: 0.000_013_333_4,
    http_api_request: 1.00 / 1e6,
    logs_ingest_gb: 0.50,
    logs_store_gb_month: 0.03,
    alarm_metric_month: 0.10,
    custom_metric_month: 0.30,
    dashboard_month: 3.00,
    secret_month: 0.40,
    secret_api_call: 0.05 / 10_000.0,
    kms_key_month: 1.00,
    kms_request: 0.03 / 10_000.0,
    kms_asymmetric_request: 0.15 / 10_000.0,
    sqs_request: 0.40 / 1e6,
    scheduler_invocation: 1.00 / 1e6,
    xray_trace: 5.00 / 1e6,
    s3_gb_month: 0.023,
    s3_put: 0.005 / 1000.0,
    s3_get: 0.0004 / 1000.0,
    sns_email: 2.00 / 100_000.0,
    supabase_pro_month: 25.0,
    supabase_branch_hour: 0.01344,
};

/// Per-request figures the benchmarks measured (BENCHMARKS.md; update with them).
pub mod measured {
    /// A warm request's billed duration at 256 MB: the handler's own work is microseconds and its CPU under 1 ms; the
    /// rest is one database round trip, which Supabase answers in a few milliseconds in-region ("Cold start", warm
    /// column, plus that round trip).
    pub const WARM_MS: f64 = 8.0;
    /// A cold start's extra billed time at 256 MB ("Memory size" table: 35–39 ms predicted, here rounded up).
    pub const COLD_EXTRA_MS: f64 = 40.0;
    /// The authorizer's billed duration per invocation (RS256 verification with cached keys).
    pub const AUTHORIZER_MS: f64 = 2.0;
    /// Bytes a function logs per request: the request line with its metrics (≈ 650 B) and Lambda's START, END and
    /// REPORT lines (≈ 350 B).
    pub const FUNCTION_LOG_BYTES: f64 = 1000.0;
    /// Bytes of the API's access-log line per request.
    pub const ACCESS_LOG_BYTES: f64 = 550.0;
    /// An event's billed duration at 256 MB for a function without a caller: its database work (200 import lines
    /// took 34 ms a message through the local worker, BENCHMARKS.md, "Queues"), rounded up for an in-region round
    /// trip.
    pub const EVENT_MS: f64 = 50.0;
    /// Service tokens a worker's execution environment requests an hour (a token lives an hour and is renewed a
    /// minute early; one per cold start besides): one `Sign` each.
    pub const TOKENS_PER_HOUR: f64 = 1.0;
    /// SQS requests Lambda's pollers make for one queue a month while it is empty: five pollers long-polling 20 s.
    pub const IDLE_POLLS_PER_QUEUE: f64 = 5.0 * 3.0 * 60.0 * 24.0 * 30.0;
}

/// Runs a month of a schedule expression: `rate(N unit)` exactly, a `cron(…)` as once a day (its usual form here),
/// `at(…)` once.
pub fn runs_per_month(expression: &str) -> f64 {
    let month_minutes = 30.0 * 24.0 * 60.0;
    if let Some(inner) = expression.strip_prefix("rate(").and_then(|e| e.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let n: f64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1.0);
        let minutes = match parts.next().unwrap_or("").trim_end_matches('s') {
            "minute" => 1.0,
            "hour" => 60.0,
            "day" => 1440.0,
            _ => 1440.0,
        };
        return month_minutes / (n * minutes).max(1.0);
    }
    if expression.starts_with("at(") {
        return 1.0;
    }
    30.0
}

/// The traffic an environment is priced for.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    /// API requests a month per module (spread over its HTTP functions).
    pub requests_per_module: BTreeMap<String, f64>,
    /// Queue messages a month per queue-fed function, and documents a month per objects-created function (by
    /// binary); scheduled runs follow from the schedule.
    pub events_per_function: BTreeMap<String, f64>,
    pub cold_share: f64,
    pub warm_ms: f64,
    pub users: f64,
    /// Hours a user is active in a month (8 h × 22 working days).
    pub active_hours_per_user: f64,
    pub documents_gb: f64,
    pub supabase_pro: bool,
    /// Hours of a Supabase preview branch (a preview's database: 730 for a month).
    pub supabase_branch_hours: f64,
}

/// One priced line.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    /// The module it belongs to, or `platform`.
    pub owner: String,
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub usd: f64,
}

/// The estimate: every line, per owner and in total.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub env: String,
    pub prices: Prices,
    pub profile: Profile,
    pub lines: Vec<Line>,
    pub per_owner: BTreeMap<String, f64>,
    pub total: f64,
}

/// A priced line.
pub fn line(owner: &str, item: &str, quantity: f64, unit: &str, usd: f64) -> Line {
    Line { owner: owner.to_owned(), item: item.to_owned(), quantity, unit: unit.to_owned(), usd }
}
