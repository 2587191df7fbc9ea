//! `local-api`: serves the whole API on 127.0.0.1 (started by `cargo xtask dev`, which also starts the database
//! and the Okta stand-in). `local-api --openapi` prints the OpenAPI document instead.
//!
//! Configuration from the environment: `POSTGREST_URL` and optionally `SUPABASE_ANON_KEY` (as for the Lambdas
//! locally), `OKTA_BASE_URL` and `OKTA_API_TOKEN` (the Okta stand-in), and `LOCAL_API_PORT` (default 8787).

#![allow(clippy::print_stdout, reason = "a command-line program")]

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    let config = module_runtime::Config { db: Some(db), okta };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e} (use --port with cargo xtask dev)"))?;
    let app = Arc::new(local_api::App::new(listener.local_addr()?, &config)?);
    tokio::select! {
        () = local_api::serve(listener, app) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
