//! org-module's handlers: identities-management, profiles, orgs and members, each a dispatch table over the route
//! registry plus its operations. Each binary in `src/bin/` serves one function; the local API serves them all
//! through [`handle`].
//!
//! Handlers do no authorization of their own beyond clear early 403s: Row-Level Security and the database
//! functions decide what a caller can see and change.

pub mod identities;
pub mod members;
pub mod openapi;
pub mod orgs;
pub mod profiles;
pub mod types;

use lambda_http::{Body, Request, Response};
use org_common::Db;
use route_registry::{org, Function};

/// Runs a function's handler on one request; `None` when `function` is not one of org-module's.
pub async fn handle(function: Function, db: &Db, req: Request) -> Option<Response<Body>> {
    Some(match function {
        f if f == org::IDENTITIES_MANAGEMENT => identities::handle(db, req).await,
        f if f == org::PROFILES => profiles::handle(db, req).await,
        f if f == org::ORGS => orgs::handle(db, req).await,
        f if f == org::MEMBERS => members::handle(db, req).await,
        _ => return None,
    })
}

/// Every (route, function) pair the handlers serve, for the registry coverage test.
pub fn served_routes() -> Vec<(route_registry::Route, Function)> {
    let mut out = Vec::new();
    out.extend(identities::ROUTES.iter().map(|(r, _)| (*r, org::IDENTITIES_MANAGEMENT)));
    out.extend(profiles::ROUTES.iter().map(|(r, _)| (*r, org::PROFILES)));
    out.extend(orgs::ROUTES.iter().map(|(r, _)| (*r, org::ORGS)));
    out.extend(members::ROUTES.iter().map(|(r, _)| (*r, org::MEMBERS)));
    out
}
