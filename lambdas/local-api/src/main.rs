//! `local-api`: serves the whole API on 127.0.0.1 (started by `cargo xtask dev`, which also starts the database).
//! `local-api --openapi` prints the OpenAPI document instead.
//!
//! Configuration from the environment: `POSTGREST_URL`, `SUPABASE_JWT_SECRET` (as for the Lambdas locally),
//! `LOCAL_API_PORT` (default 8787) and `LOCAL_API_JWKS` (the development issuer's JWKS file).

#![allow(clippy::print_stdout, reason = "a command-line program")]

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("LOCAL_API_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8787);
    if std::env::args().any(|a| a == "--openapi") {
        println!("{:#}", org_module::openapi::document(&format!("http://127.0.0.1:{port}")));
        return Ok(());
    }
    org_common::logging::init();
    let jwks_path =
        std::env::var("LOCAL_API_JWKS").map_err(|_| "LOCAL_API_JWKS is not set (the development JWKS file)")?;
    let jwks = std::fs::read_to_string(&jwks_path).map_err(|e| format!("cannot read {jwks_path}: {e}"))?;
    let db = org_common::config::load_db_config().await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e} (use --port with cargo xtask dev)"))?;
    let app = Arc::new(local_api::App::new(listener.local_addr()?, &db, jwks)?);
    tokio::select! {
        () = local_api::serve(listener, app) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
