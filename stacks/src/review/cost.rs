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

use route_registry::{Function, Module};
use serde_json::Value;

use crate::env::Settings;
use crate::pricing::{line, measured};
pub use crate::pricing::{Estimate, Line, Prices, Profile};
use crate::triggers::{self, CostAt};
use crate::Env;

pub use crate::pricing::{runs_per_month, PRICES};

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
                .filter(|f| triggers::of(&f.trigger).events_follow_traffic())
                .map(|f| (f.binary.to_owned(), requests / 100.0))
                .collect(),
            cold_share: 0.01,
            warm_ms: measured::WARM_MS,
            users,
            active_hours_per_user: 8.0 * 22.0,
            documents_gb,
            supabase_pro: true,
            supabase_branch_hours: 0.0,
        }
    }

    /// A preview nobody uses for a month: no requests, no events, no documents; what it costs is what it keeps
    /// (keys, secrets, alarms, the dashboard) and its database branch's hours.
    pub fn idle_preview() -> Profile {
        let mut p = Profile::default_for(Env::Dev);
        p.requests_per_module.values_mut().for_each(|r| *r = 0.0);
        p.events_per_function.values_mut().for_each(|e| *e = 0.0);
        p.users = 0.0;
        p.documents_gb = 0.0;
        p.supabase_pro = false;
        p.supabase_branch_hours = 730.0;
        p
    }
}

/// Prices an environment for a profile. `doc` is its synthesized stack (alarms, dashboards, secrets are counted
/// from it, so what is priced is what is deployed).
pub fn estimate(env: Env, profile: &Profile, doc: &Value, p: &Prices) -> Estimate {
    estimate_settings(&env.settings(), profile, doc, p)
}

/// [`estimate`] for an explicit settings row (a preview's).
pub fn estimate_settings(s: &Settings, profile: &Profile, doc: &Value, p: &Prices) -> Estimate {
    let s = s.clone();
    let mut lines = Vec::new();
    let mut traffic = Traffic::default();
    for module in route_registry::MODULES {
        traffic += module_lines(&mut lines, &s, profile, p, module);
    }
    platform_lines(&mut lines, &s, profile, doc, p, traffic);
    let mut per_owner = BTreeMap::new();
    for l in &lines {
        *per_owner.entry(l.owner.clone()).or_insert(0.0) += l.usd;
    }
    let total = lines.iter().map(|l| l.usd).sum();
    Estimate { env: s.stage.clone(), prices: *p, profile: profile.clone(), lines, per_owner, total }
}

/// A month's API requests and events of functions without a caller, for the platform's lines.
#[derive(Debug, Default, Clone, Copy)]
struct Traffic {
    requests: f64,
    events: f64,
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, other: Traffic) {
        self.requests += other.requests;
        self.events += other.events;
    }
}

/// One module's lines: each function's Lambda time and what starts it (its kind's lines), its logs, metrics and
/// traces.
fn module_lines(lines: &mut Vec<Line>, s: &Settings, profile: &Profile, p: &Prices, module: &Module) -> Traffic {
    let requests = profile.requests_per_module.get(module.name).copied().unwrap_or(0.0);
    let http = module.functions.iter().filter(|f| f.trigger.is_synchronous()).count().max(1);
    let at = CostAt { settings: s, profile, prices: p, requests_per_http_function: requests / http as f64 };
    let mut events_total = 0.0;
    for f in module.functions {
        events_total += function_lines(lines, &at, module, f);
    }
    let retention_months = f64::from(s.log_retention_days) / 30.0;
    let log_gb = (requests + events_total) * measured::FUNCTION_LOG_BYTES / 1e9;
    lines.push(line(module.name, "log ingestion", log_gb, "GB", log_gb * p.logs_ingest_gb));
    let stored = log_gb * retention_months;
    lines.push(line(
        module.name,
        "log storage (steady state, uncompressed)",
        stored,
        "GB-month",
        stored * p.logs_store_gb_month,
    ));
    // EMF: every metric once per dimension set and function (the sets name no route); request lines for functions
    // that answer requests, event lines for the others.
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
    Traffic { requests, events: events_total }
}

/// One function's Lambda requests and duration, and for a function without a caller its kind's lines and its service
/// token's signatures; returns its events (0 for one that answers requests).
fn function_lines(lines: &mut Vec<Line>, at: &CostAt<'_>, module: &Module, f: &Function) -> f64 {
    let kind = triggers::of(&f.trigger);
    let events = kind.events(at, f);
    let memory_gb = f64::from(at.settings.lambda_memory_mb.unwrap_or(f.memory_mb)) / 1024.0;
    let billed_s = (events.billed_ms + at.profile.cold_share * measured::COLD_EXTRA_MS) / 1000.0;
    let gb_s = events.per_month * memory_gb * billed_s;
    let asynchronous = !f.trigger.is_synchronous();
    if asynchronous {
        lines.extend(kind.cost_lines(at, module.name, f, events.per_month));
        if f.acts_as_service() {
            let hours = if events.per_month > 0.0 { 30.0 * 24.0 } else { 0.0 };
            let signs = (hours * measured::TOKENS_PER_HOUR).min(events.per_month.max(1.0));
            lines.push(line(
                module.name,
                &format!("{}: service token signatures (KMS)", f.name),
                signs,
                "requests",
                signs * at.prices.kms_asymmetric_request,
            ));
        }
    }
    lines.push(line(
        module.name,
        &format!("{}: Lambda requests", f.name),
        events.per_month,
        "requests",
        events.per_month * at.prices.lambda_request,
    ));
    lines.push(line(
        module.name,
        &kind.duration_label(f, &events),
        gb_s,
        "GB-s",
        gb_s * at.prices.lambda_gb_second_arm64,
    ));
    if asynchronous {
        events.per_month
    } else {
        0.0
    }
}

/// The platform's lines: the authorizer, the API and its access log, alarms, the dashboard, secrets, keys, the
/// documents bucket, alarm e-mails and Supabase.
fn platform_lines(lines: &mut Vec<Line>, s: &Settings, profile: &Profile, doc: &Value, p: &Prices, t: Traffic) {
    let count = |ty: &str| doc["resource"][ty].as_object().map_or(0, |m| m.len()) as f64;
    let retention_months = f64::from(s.log_retention_days) / 30.0;
    let mut add =
        |item: &str, quantity: f64, unit: &str, usd: f64| lines.push(line("platform", item, quantity, unit, usd));
    // The authorizer: one invocation per token per cache window of activity, never more than the requests.
    let windows = profile.users * profile.active_hours_per_user * 3600.0 / f64::from(s.authorizer_cache_ttl_s.max(1));
    let auth = windows.min(t.requests);
    let auth_gb_s = auth * f64::from(route_registry::AUTHORIZER.memory_mb) / 1024.0 * measured::AUTHORIZER_MS / 1000.0;
    add("authorizer: Lambda requests", auth, "requests", auth * p.lambda_request);
    add("authorizer: Lambda duration (arm64)", auth_gb_s, "GB-s", auth_gb_s * p.lambda_gb_second_arm64);
    add("HTTP API requests", t.requests, "requests", t.requests * p.http_api_request);
    let access = t.requests * measured::ACCESS_LOG_BYTES / 1e9;
    add("access-log ingestion", access, "GB", access * p.logs_ingest_gb);
    add(
        "access-log storage (steady state)",
        access * retention_months,
        "GB-month",
        access * retention_months * p.logs_store_gb_month,
    );
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
    add("alarms (metrics evaluated)", alarm_metrics, "alarm metrics", alarm_metrics * p.alarm_metric_month);
    let dashboards = count("aws_cloudwatch_dashboard");
    add("dashboards", dashboards, "dashboards", dashboards * p.dashboard_month);
    let secrets = count("aws_secretsmanager_secret");
    add("secrets", secrets, "secrets", secrets * p.secret_month);
    let cold_starts = t.requests * profile.cold_share;
    add(
        "secret reads (one per secret per cold start)",
        cold_starts * 1.2,
        "calls",
        cold_starts * 1.2 * p.secret_api_call,
    );
    let keys = count("aws_kms_key");
    add("KMS keys (the platform's and each service identity's)", keys, "keys", keys * p.kms_key_month);
    // Symmetric requests: secret reads, log encryption, and the queues' data keys (reused 5 minutes).
    let symmetric = cold_starts * 1.2 + t.requests * 0.01 + t.events * 0.01;
    add("KMS requests (secret reads, log and queue encryption)", symmetric, "requests", symmetric * p.kms_request);
    add("documents bucket", profile.documents_gb, "GB-month", profile.documents_gb * p.s3_gb_month);
    let emails = s.alarm_emails.len() as f64 * 30.0;
    add("alarm e-mails (a few a day)", emails, "e-mails", emails * p.sns_email);
    if profile.supabase_pro {
        add("Supabase Pro", 1.0, "project", p.supabase_pro_month);
    }
    if profile.supabase_branch_hours > 0.0 {
        let hours = profile.supabase_branch_hours;
        add("Supabase preview branch (Micro compute)", hours, "hours", hours * p.supabase_branch_hour);
    }
}

/// The estimate as the docs quote it (`docs/generated/cost-<env>.md`, written by `cargo xtask codegen` and held
/// fresh by its check): the traffic, a subtotal per owner, every line, the total, and what a per-route metric
/// dimension would add.
pub fn markdown(e: &Estimate, command: &str) -> String {
    let p = &e.profile;
    let mut page = format!(
        "<!-- Generated by `{command}` from the cost model (stacks/src/review/cost.rs); the test command checks it. Do not edit. -->\n\
         # What {env} costs a month\n\n\
         {region} list prices of {date}, free tiers left out (an upper bound). Traffic: {requests} API requests a month \
         per module, {events} events for each function whose events follow the traffic, {cold:.0}% cold starts, \
         {warm} ms a warm request, {users} users, {gb} GB of documents, Supabase {plan}.\n\n\
         | owner | USD / month |\n|-------|-------------|\n",
        env = e.env,
        region = e.prices.region,
        date = e.prices.date,
        requests = p.requests_per_module.values().next().copied().unwrap_or(0.0),
        events = p.events_per_function.values().next().copied().unwrap_or(0.0),
        cold = p.cold_share * 100.0,
        warm = p.warm_ms,
        users = p.users,
        gb = p.documents_gb,
        plan = if p.supabase_pro { "Pro" } else { "free" },
    );
    for (owner, usd) in &e.per_owner {
        page.push_str(&format!("| {owner} | {usd:.2} |\n"));
    }
    page.push_str(&format!("| **total** | **{:.2}** |\n\n", e.total));
    page.push_str("| owner | item | quantity | unit | USD |\n|-------|------|----------|------|-----|\n");
    for l in &e.lines {
        page.push_str(&format!("| {} | {} | {:.2} | {} | {:.2} |\n", l.owner, l.item, l.quantity, l.unit, l.usd));
    }
    let per_route = (route_registry::all_routes().count() * route_registry::telemetry::METRICS.len()) as f64;
    page.push_str(&format!(
        "\nA route dimension on the request lines would add {per_route:.0} custom metrics (every route times the {} \
         request metrics): {:.2} USD a month, which is why the lines carry none (the saved queries break figures down by \
         route instead).\n",
        route_registry::telemetry::METRICS.len(),
        per_route * e.prices.custom_metric_month
    ));
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use route_registry::Trigger;

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
