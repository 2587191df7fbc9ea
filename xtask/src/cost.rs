//! `cargo xtask cost <env>`: prints what an environment costs a month (`stacks::cost`, the model and its dated
//! price table) for the environment's traffic profile or the one the flags state, as a table or JSON.

use anyhow::{bail, Result};
use stacks::cost::{estimate, Profile, PRICES};
use stacks::Env;

use xtask_synth::parse_env;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to price.
    #[arg(value_parser = parse_env)]
    env: Env,
    /// Requests a month for every module (default: the environment's profile).
    #[arg(long)]
    requests: Option<f64>,
    /// Requests a month for one module, e.g. `org-module=250000` (repeatable; overrides --requests).
    #[arg(long = "module-requests", value_name = "MODULE=N")]
    module_requests: Vec<String>,
    /// Share of invocations that are cold starts.
    #[arg(long, default_value_t = 0.01)]
    cold_share: f64,
    /// Billed milliseconds of a warm request (default: the benchmark's figure).
    #[arg(long)]
    duration_ms: Option<f64>,
    /// People using the API in a month (for authorizer invocations, which API Gateway caches per token).
    #[arg(long)]
    users: Option<f64>,
    /// Documents stored, in GB.
    #[arg(long)]
    documents_gb: Option<f64>,
    /// No Supabase Pro plan (the free tier).
    #[arg(long)]
    supabase_free: bool,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<()> {
    let mut profile = Profile::default_for(args.env);
    if let Some(n) = args.requests {
        for v in profile.requests_per_module.values_mut() {
            *v = n;
        }
    }
    for spec in &args.module_requests {
        let Some((module, n)) = spec.split_once('=') else {
            bail!("--module-requests takes MODULE=N, e.g. org-module=250000 (got `{spec}`)");
        };
        let Some(slot) = profile.requests_per_module.get_mut(module) else {
            bail!(
                "no module `{module}` in the catalog; modules: {}",
                profile.requests_per_module.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        };
        *slot = n.parse().map_err(|_| anyhow::anyhow!("`{n}` is not a number of requests"))?;
    }
    profile.cold_share = args.cold_share;
    if let Some(ms) = args.duration_ms {
        profile.warm_ms = ms;
    }
    if let Some(u) = args.users {
        profile.users = u;
    }
    if let Some(g) = args.documents_gb {
        profile.documents_gb = g;
    }
    profile.supabase_pro = !args.supabase_free;
    let options = stacks::Options { example: true, ..Default::default() };
    let doc: serde_json::Value =
        serde_json::from_str(&stacks::synth_with(args.env, &stacks::Target::Aws, &options)?.text)?;
    let e = estimate(args.env, &profile, &doc, &PRICES);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!(
        "{} a month, {} list prices of {} (free tiers left out: an upper bound)",
        e.env, PRICES.region, PRICES.date
    );
    println!(
        "traffic: {} requests a month ({}), {:.0}% cold starts, {} ms per warm request, {} users",
        profile.requests_per_module.values().sum::<f64>(),
        profile.requests_per_module.iter().map(|(m, n)| format!("{m} {n}")).collect::<Vec<_>>().join(", "),
        profile.cold_share * 100.0,
        profile.warm_ms,
        profile.users
    );
    println!("{:<14} {:<50} {:>16} {:<14} {:>10}", "owner", "item", "quantity", "unit", "USD");
    for l in &e.lines {
        println!("{:<14} {:<50} {:>16.2} {:<14} {:>10.2}", l.owner, l.item, l.quantity, l.unit, l.usd);
    }
    for (owner, usd) in &e.per_owner {
        println!("{:<14} {:<50} {:>16} {:<14} {:>10.2}", owner, "subtotal", "", "", usd);
    }
    println!("{:<14} {:<50} {:>16} {:<14} {:>10.2}", "total", "", "", "", e.total);
    Ok(())
}
