//! What an environment costs a month, computed from the typed model (the catalog, the settings table, the
//! synthesized stack) and a stated traffic profile, priced from a dated table: the seed's hand estimate, computed
//! instead. `cargo xtask cost` prints it.
//!
//! Every billed thing the stacks create is priced: Lambda requests and GB-seconds at each function's memory and
//! architecture (warm and cold durations from the benchmarks), authorizer invocations given the cache TTL, HTTP API
//! requests, the events of functions without a caller (queue messages with the pollers' long polls, scheduled runs
//! from their expressions, documents created) with their service tokens' signatures, log ingestion and storage under
//! each retention, alarms, custom metrics (the request and event lines' EMF), the dashboard, secrets, the KMS keys,
//! traces, the documents bucket, and the Supabase plan. Free tiers are left out
//! (they are per account, not per environment), so the figures are an upper bound. Pure: no IO.

use std::collections::BTreeMap;

use serde::Serialize;

use route_registry::Trigger;

use crate::Env;

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
}

impl Profile {
    /// The default profile of an environment: dev is the seed's (about 10,000 invocations a month per module).
    pub fn default_for(env: Env) -> Profile {
        let (requests, users, documents_gb) = match env {
            Env::Dev => (10_000.0, 10.0, 1.0),
            Env::Tst => (50_000.0, 20.0, 2.0),
            Env::Stg => (200_000.0, 50.0, 10.0),
            Env::Prd => (5_000_000.0, 5_000.0, 200.0),
        };
        Profile {
            requests_per_module: route_registry::MODULES.iter().map(|m| (m.name.to_owned(), requests)).collect(),
            // A message or a document per 100 requests (an import is rare; a document upload is per user action).
            events_per_function: route_registry::MODULES
                .iter()
                .flat_map(|m| m.functions.iter())
                .filter(|f| matches!(f.trigger, Trigger::Queue(_) | Trigger::ObjectsCreated { .. }))
                .map(|f| (f.binary.to_owned(), requests / 100.0))
                .collect(),
            cold_share: 0.01,
            warm_ms: measured::WARM_MS,
            users,
            active_hours_per_user: 8.0 * 22.0,
            documents_gb,
            supabase_pro: true,
        }
    }
}

/// What a function without a caller adds besides its Lambda time: its trigger's requests and its service token's
/// signatures.
fn worker_lines(lines: &mut Vec<Line>, owner: &str, f: &route_registry::Function, events: f64, p: &Prices) {
    match f.trigger {
        Trigger::Queue(_) => {
            // A message is sent, received and deleted; the pollers long-poll all month besides.
            let requests = events * 3.0 + measured::IDLE_POLLS_PER_QUEUE;
            lines.push(line(
                owner,
                &format!("{}: SQS requests", f.name),
                requests,
                "requests",
                requests * p.sqs_request,
            ));
        }
        Trigger::Schedule(_) => {
            lines.push(line(
                owner,
                &format!("{}: scheduler invocations", f.name),
                events,
                "invocations",
                events * p.scheduler_invocation,
            ));
        }
        Trigger::ObjectsCreated { .. } => {
            // Each document is uploaded once (a POST is a PUT's price) and read once by the function.
            lines.push(line(
                owner,
                &format!("{}: S3 requests (upload, read)", f.name),
                events * 2.0,
                "requests",
                events * (p.s3_put + p.s3_get),
            ));
        }
        Trigger::Http | Trigger::Authorizer => {}
    }
    if f.acts_as_service() {
        let hours = if events > 0.0 { 30.0 * 24.0 } else { 0.0 };
        let signs = (hours * measured::TOKENS_PER_HOUR).min(events.max(1.0));
        lines.push(line(
            owner,
            &format!("{}: service token signatures (KMS)", f.name),
            signs,
            "requests",
            signs * p.kms_asymmetric_request,
        ));
    }
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

fn line(owner: &str, item: &str, quantity: f64, unit: &str, usd: f64) -> Line {
    Line { owner: owner.to_owned(), item: item.to_owned(), quantity, unit: unit.to_owned(), usd }
}

/// Prices an environment for a profile. `doc` is its synthesized stack (alarms, dashboards, secrets are counted
/// from it, so what is priced is what is deployed).
pub fn estimate(env: Env, profile: &Profile, doc: &serde_json::Value, p: &Prices) -> Estimate {
    let s = env.settings();
    let mut lines = Vec::new();
    let count = |ty: &str| doc["resource"][ty].as_object().map_or(0, |m| m.len()) as f64;
    let retention_months = f64::from(s.log_retention_days) / 30.0;
    let gb = |bytes: f64| bytes / 1e9;
    let mut total_requests = 0.0;
    let mut total_events = 0.0;
    for module in route_registry::MODULES {
        let requests = profile.requests_per_module.get(module.name).copied().unwrap_or(0.0);
        total_requests += requests;
        let http = module.functions.iter().filter(|f| f.trigger == Trigger::Http).count().max(1);
        let per_http_function = requests / http as f64;
        let mut module_events = 0.0;
        for f in module.functions {
            let memory_gb = f64::from(s.lambda_memory_mb.unwrap_or(f.memory_mb)) / 1024.0;
            let (per_function, event_ms) = match f.trigger {
                Trigger::Http | Trigger::Authorizer => (per_http_function, profile.warm_ms),
                Trigger::Schedule(sch) => (runs_per_month(sch.expression), measured::EVENT_MS),
                Trigger::Queue(_) => {
                    (profile.events_per_function.get(f.binary).copied().unwrap_or(0.0), measured::EVENT_MS)
                }
                // A document may take up to the function's whole timeout (reading hostile input is bounded by it,
                // not by its size), so documents are priced at that ceiling: an upper bound, stated as such.
                Trigger::ObjectsCreated { .. } => (
                    profile.events_per_function.get(f.binary).copied().unwrap_or(0.0),
                    f64::from(s.lambda_timeout_s.unwrap_or(f.timeout_s)) * 1000.0,
                ),
            };
            if !f.trigger.is_synchronous() {
                module_events += per_function;
                worker_lines(&mut lines, module.name, f, per_function, p);
            }
            let billed_s = (event_ms + profile.cold_share * measured::COLD_EXTRA_MS) / 1000.0;
            let gb_s = per_function * memory_gb * billed_s;
            lines.push(line(
                module.name,
                &format!("{}: Lambda requests", f.name),
                per_function,
                "requests",
                per_function * p.lambda_request,
            ));
            lines.push(line(
                module.name,
                &match f.trigger {
                    Trigger::ObjectsCreated { .. } => {
                        format!(
                            "{}: Lambda duration (arm64, each document at the {} s ceiling)",
                            f.name,
                            event_ms / 1000.0
                        )
                    }
                    _ => format!("{}: Lambda duration (arm64)", f.name),
                },
                gb_s,
                "GB-s",
                gb_s * p.lambda_gb_second_arm64,
            ));
        }
        total_events += module_events;
        let log_bytes = (requests + module_events) * measured::FUNCTION_LOG_BYTES;
        lines.push(line(module.name, "log ingestion", gb(log_bytes), "GB", gb(log_bytes) * p.logs_ingest_gb));
        let stored = gb(log_bytes) * retention_months;
        lines.push(line(
            module.name,
            "log storage (steady state, uncompressed)",
            stored,
            "GB-month",
            stored * p.logs_store_gb_month,
        ));
        // EMF: every metric once per dimension set and function (the sets name no route); request lines for
        // functions that answer requests, event lines for the others.
        let metrics: f64 = module
            .functions
            .iter()
            .map(|f| {
                let per_line = match f.trigger.is_synchronous() {
                    true => route_registry::telemetry::METRICS.len(),
                    false => route_registry::telemetry::EVENT_METRICS.len(),
                };
                (per_line * route_registry::telemetry::DIMENSION_SETS.len()) as f64
            })
            .sum();
        lines.push(line(
            module.name,
            "custom metrics (request and event lines)",
            metrics,
            "metrics",
            metrics * p.custom_metric_month,
        ));
        let traces = requests * 0.05;
        lines.push(line(module.name, "X-Ray traces (5% sampled)", traces, "traces", traces * p.xray_trace));
    }

    // The authorizer: one invocation per token per cache window of activity, never more than the requests.
    let windows = profile.users * profile.active_hours_per_user * 3600.0 / f64::from(s.authorizer_cache_ttl_s.max(1));
    let auth = windows.min(total_requests);
    let auth_gb_s = auth * f64::from(route_registry::AUTHORIZER.memory_mb) / 1024.0 * measured::AUTHORIZER_MS / 1000.0;
    lines.push(line("platform", "authorizer: Lambda requests", auth, "requests", auth * p.lambda_request));
    lines.push(line(
        "platform",
        "authorizer: Lambda duration (arm64)",
        auth_gb_s,
        "GB-s",
        auth_gb_s * p.lambda_gb_second_arm64,
    ));
    lines.push(line("platform", "HTTP API requests", total_requests, "requests", total_requests * p.http_api_request));
    let access = gb(total_requests * measured::ACCESS_LOG_BYTES);
    lines.push(line("platform", "access-log ingestion", access, "GB", access * p.logs_ingest_gb));
    lines.push(line(
        "platform",
        "access-log storage (steady state)",
        access * retention_months,
        "GB-month",
        access * retention_months * p.logs_store_gb_month,
    ));

    // Alarms: one metric each, or as many as their metric math reads.
    let alarm_metrics: f64 = doc["resource"]["aws_cloudwatch_metric_alarm"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|a| {
                    a["metric_query"]
                        .as_array()
                        .map_or(1.0, |q| q.iter().filter(|x| x.get("metric").is_some()).count() as f64)
                })
                .sum()
        })
        .unwrap_or(0.0);
    lines.push(line(
        "platform",
        "alarms (metrics evaluated)",
        alarm_metrics,
        "alarm metrics",
        alarm_metrics * p.alarm_metric_month,
    ));
    let dashboards = count("aws_cloudwatch_dashboard");
    lines.push(line("platform", "dashboards", dashboards, "dashboards", dashboards * p.dashboard_month));
    let secrets = count("aws_secretsmanager_secret");
    lines.push(line("platform", "secrets", secrets, "secrets", secrets * p.secret_month));
    let cold_starts = total_requests * profile.cold_share;
    lines.push(line(
        "platform",
        "secret reads (one per secret per cold start)",
        cold_starts * 1.2,
        "calls",
        cold_starts * 1.2 * p.secret_api_call,
    ));
    let keys = count("aws_kms_key");
    lines.push(line(
        "platform",
        "KMS keys (the platform's and each service identity's)",
        keys,
        "keys",
        keys * p.kms_key_month,
    ));
    // Symmetric requests: secret reads, log encryption, and the queues' data keys (reused 5 minutes).
    let symmetric = cold_starts * 1.2 + total_requests * 0.01 + total_events * 0.01;
    lines.push(line(
        "platform",
        "KMS requests (secret reads, log and queue encryption)",
        symmetric,
        "requests",
        symmetric * p.kms_request,
    ));
    lines.push(line(
        "platform",
        "documents bucket",
        profile.documents_gb,
        "GB-month",
        profile.documents_gb * p.s3_gb_month,
    ));
    let emails = s.alarm_emails.len() as f64 * 30.0;
    lines.push(line("platform", "alarm e-mails (a few a day)", emails, "e-mails", emails * p.sns_email));
    if profile.supabase_pro {
        lines.push(line("platform", "Supabase Pro", 1.0, "project", p.supabase_pro_month));
    }

    let mut per_owner = BTreeMap::new();
    for l in &lines {
        *per_owner.entry(l.owner.clone()).or_insert(0.0) += l.usd;
    }
    let total = lines.iter().map(|l| l.usd).sum();
    Estimate { env: env.to_string(), prices: *p, profile: profile.clone(), lines, per_owner, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small case computed by hand: one module's functions at 256 MB, 1,000,000 requests, no cold starts, 10 ms.
    #[test]
    fn the_arithmetic_of_a_hand_computed_case() {
        let doc = serde_json::json!({"resource": {
            "aws_cloudwatch_metric_alarm": {"a": {}, "b": {"metric_query": [{"metric": {}}, {"metric": {}}, {"expression": "x"}]}},
            "aws_secretsmanager_secret": {"s": {}},
            "aws_kms_key": {"k": {}},
            "aws_cloudwatch_dashboard": {"d": {}},
        }});
        let mut profile = Profile::default_for(Env::Dev);
        // org-module carries the traffic; any other module of the catalog (a scaffolded one) none.
        let module = route_registry::modules::org::MODULE;
        for (name, v) in profile.requests_per_module.iter_mut() {
            *v = if *name == module.name { 1_000_000.0 } else { 0.0 };
        }
        profile.cold_share = 0.0;
        profile.warm_ms = 10.0;
        profile.users = 0.0;
        profile.documents_gb = 0.0;
        profile.supabase_pro = false;
        for v in profile.events_per_function.values_mut() {
            *v = 0.0;
        }
        let e = estimate(Env::Dev, &profile, &doc, &PRICES);
        let usd = |item: &str| e.lines.iter().filter(|l| l.item.contains(item)).map(|l| l.usd).sum::<f64>();
        let http: Vec<&str> = module.functions.iter().filter(|f| f.trigger == Trigger::Http).map(|f| f.name).collect();
        let http_usd = |item: &str| {
            e.lines
                .iter()
                .filter(|l| l.item.contains(item) && http.iter().any(|f| l.item.starts_with(&format!("{f}:"))))
                .map(|l| l.usd)
                .sum::<f64>()
        };

        let functions = http.len() as f64;
        // Requests: $0.20 per million, split over the HTTP functions, total $0.20.
        assert!((http_usd("Lambda requests") - 0.20).abs() < 1e-9);
        // Duration: 1e6 × 0.25 GB × 0.010 s = 2,500 GB-s × $0.0000133334 = $0.0333335.
        assert!(module.functions.iter().all(|f| f.memory_mb == 256), "the hand computation assumes 256 MB");
        let expected = 1_000_000.0 / functions * functions * 0.25 * 0.010 * 0.000_013_333_4;
        assert!((http_usd("Lambda duration") - expected).abs() < 1e-9, "{} vs {expected}", http_usd("Lambda duration"));
        assert!((expected - 0.033_333_5).abs() < 1e-9);
        // The reconciliation every 15 minutes: 2,880 runs a month, each a Lambda request and a scheduler invocation.
        assert_eq!(runs_per_month("rate(15 minutes)"), 2880.0);
        assert!((usd("okta-reconcile: Lambda requests") - 2880.0 * 0.20 / 1e6).abs() < 1e-12);
        assert!((usd("okta-reconcile: scheduler invocations") - 2880.0 / 1e6).abs() < 1e-12);
        // An idle queue still costs its pollers' long polls: 648,000 requests, $0.26.
        assert!((usd("invitation-import: SQS requests") - 648_000.0 * 0.40 / 1e6).abs() < 1e-9);
        // HTTP API: $1.00 per million.
        assert!((usd("HTTP API requests") - 1.0).abs() < 1e-9);
        // Alarms: one single-metric alarm and one reading two metrics: 3 × $0.10.
        assert!((usd("alarms") - 0.30).abs() < 1e-9);
        assert!((usd("secrets") - 0.40).abs() < 1e-9 && (usd("KMS keys") - 1.0).abs() < 1e-9);
        assert!((usd("dashboards") - 3.0).abs() < 1e-9);
        // Logs: 1e6 requests and the catalog's scheduled runs (org-module's 2,880, and any other module's) × 1,000 B
        // at $0.50 a GB (1.00288 GB for org-module alone), and the access log.
        let scheduled: f64 = route_registry::all_functions()
            .filter_map(|f| match f.trigger {
                Trigger::Schedule(s) => Some(runs_per_month(s.expression)),
                _ => None,
            })
            .sum();
        let logged_gb = (1e6 + scheduled) * 1000.0 / 1e9;
        assert!(scheduled >= 2880.0, "org-module reconciles every 15 minutes");
        assert!((usd("log ingestion") - logged_gb * 0.50 - 0.55 * 0.5).abs() < 1e-9, "function and access logs");
        // No users, no authorizer invocations.
        assert_eq!(usd("authorizer"), 0.0);
        assert!((e.total - e.per_owner.values().sum::<f64>()).abs() < 1e-9);
    }
}
