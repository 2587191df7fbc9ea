//! `local-api`: serves the whole API on 127.0.0.1 (started by `cargo xtask dev`, which also starts the database
//! and the Okta stand-in). `local-api --openapi` prints the OpenAPI document instead.
//!
//! Configuration from the environment: `POSTGREST_URL` and optionally `SUPABASE_ANON_KEY` (as for the Lambdas
//! locally), `OKTA_BASE_URL` and `OKTA_API_TOKEN` (the Okta stand-in), and `LOCAL_API_PORT` (default 8787). For
//! functions without a caller: `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL_KMS` (the local SQS and KMS),
//! `OKTA_TOKEN_URL` (the local authorization server), `SERVICE_KEY_IDS` (`<module>=<key id>,…`),
//! `LOCAL_VISIBILITY_TIMEOUT_S` (default 5) and `LOCAL_FIRE_SCHEDULES` (`true` to fire `rate(…)` schedules). For
//! functions with a documents prefix: `AWS_ENDPOINT_URL_S3` (the local documents store) and `DOCUMENTS_BUCKET`.

#![allow(clippy::print_stdout, reason = "a command-line program")]

use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A child started to run a function's isolated work (reading an uploaded document) does only that.
    let registrations: Vec<_> = all_modules::MODULES.iter().flat_map(|m| m.iter().copied()).collect();
    if let Some(code) = module_runtime::isolate::child(|b| module_runtime::registration::isolated(&registrations, b)) {
        std::process::exit(code.into());
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve())
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("LOCAL_API_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8787);
    if std::env::args().any(|a| a == "--openapi") {
        println!("{:#}", route_registry::openapi::document(&format!("http://127.0.0.1:{port}")));
        return Ok(());
    }
    module_runtime::logging::init();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let db = module_runtime::DbConfig {
        rest_url: env("POSTGREST_URL").ok_or("POSTGREST_URL is not set (cargo xtask dev sets it)")?,
        anon_key: env("SUPABASE_ANON_KEY").unwrap_or_default(),
    };
    let okta = match (env("OKTA_BASE_URL"), env("OKTA_API_TOKEN")) {
        (Some(base_url), Some(token)) => {
            Some(module_runtime::OktaConfig { base_url, token, timeout: module_runtime::timeouts::OKTA_REQUEST })
        }
        _ => None,
    };
    let config = module_runtime::Config { db: Some(db), okta, ..Default::default() };
    let triggers = match (env("AWS_ENDPOINT_URL_SQS"), env("OKTA_TOKEN_URL")) {
        (Some(_), Some(token_url)) => {
            let service_keys = env("SERVICE_KEY_IDS")
                .unwrap_or_default()
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(m, k)| (m.to_owned(), k.to_owned()))
                .collect();
            let mut triggers = local_api::triggers::Triggers {
                aws: module_runtime::aws::AwsConfig::from_environment(),
                token_url,
                service_keys,
                visibility_timeout_s: env("LOCAL_VISIBILITY_TIMEOUT_S").and_then(|s| s.parse().ok()).unwrap_or(5),
                fire_schedules: env("LOCAL_FIRE_SCHEDULES").is_some_and(|v| v == "true"),
                queues: Vec::new(),
                dlqs: Vec::new(),
                documents: env("AWS_ENDPOINT_URL_S3")
                    .zip(env("DOCUMENTS_BUCKET"))
                    .map(|(endpoint, bucket)| local_api::triggers::LocalDocuments { endpoint, bucket }),
            };
            triggers.create_queues(&module_runtime::http_client::client()?).await?;
            Some(triggers)
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e} (use --port with cargo xtask dev)"))?;
    let app = Arc::new(local_api::App::new(listener.local_addr()?, &config, triggers)?);
    local_api::triggers::start(&app);
    tokio::select! {
        () = local_api::serve(listener, app) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
