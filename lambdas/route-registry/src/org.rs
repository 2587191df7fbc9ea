//! org-module: 4 functions, 12 routes (identities, profiles, organizations, members).
//!
//! The finer rules (owner/admin of an organization, "admin or self") are enforced by the handlers and by
//! Row-Level Security; `auth` here records the coarse requirement the API documents.

use crate::{Auth, Function, Method, Module, Route};

pub const MODULE_NAME: &str = "org-module";

pub const IDENTITIES_MANAGEMENT: Function =
    Function { module: MODULE_NAME, name: "identities-management", binary: "org-identities-management" };
pub const PROFILES: Function = Function { module: MODULE_NAME, name: "profiles", binary: "org-profiles" };
pub const ORGS: Function = Function { module: MODULE_NAME, name: "orgs", binary: "org-orgs" };
pub const MEMBERS: Function = Function { module: MODULE_NAME, name: "members", binary: "org-members" };

pub const CREATE_IDENTITY: Route = Route {
    method: Method::Post,
    path: "/identities",
    function: IDENTITIES_MANAGEMENT,
    auth: Auth::Admin,
    summary: "Provision a user from an identity-provider subject",
};
pub const GET_IDENTITY: Route = Route {
    method: Method::Get,
    path: "/identities/{id}",
    function: IDENTITIES_MANAGEMENT,
    auth: Auth::AdminOrSelf,
    summary: "Get a user identity",
};
pub const DELETE_IDENTITY: Route = Route {
    method: Method::Delete,
    path: "/identities/{id}",
    function: IDENTITIES_MANAGEMENT,
    auth: Auth::Admin,
    summary: "Deactivate a user (soft delete)",
};

pub const GET_PROFILE: Route = Route {
    method: Method::Get,
    path: "/profiles/me",
    function: PROFILES,
    auth: Auth::User,
    summary: "Get the caller's profile",
};
pub const UPDATE_PROFILE: Route = Route {
    method: Method::Put,
    path: "/profiles/me",
    function: PROFILES,
    auth: Auth::User,
    summary: "Update the caller's profile",
};
pub const DELETE_PROFILE: Route = Route {
    method: Method::Delete,
    path: "/profiles/me",
    function: PROFILES,
    auth: Auth::User,
    summary: "Delete the caller's profile (soft delete)",
};

pub const LIST_ORGS: Route = Route {
    method: Method::Get,
    path: "/organizations",
    function: ORGS,
    auth: Auth::User,
    summary: "List the organizations the caller belongs to",
};
pub const CREATE_ORG: Route = Route {
    method: Method::Post,
    path: "/organizations",
    function: ORGS,
    auth: Auth::User,
    summary: "Create an organization with the caller as its owner",
};
pub const UPDATE_ORG: Route = Route {
    method: Method::Put,
    path: "/organizations/{id}",
    function: ORGS,
    auth: Auth::User,
    summary: "Update an organization (owner or org admin)",
};

pub const LIST_MEMBERS: Route = Route {
    method: Method::Get,
    path: "/organizations/{id}/members",
    function: MEMBERS,
    auth: Auth::User,
    summary: "List an organization's members",
};
pub const ADD_MEMBER: Route = Route {
    method: Method::Post,
    path: "/organizations/{id}/members",
    function: MEMBERS,
    auth: Auth::User,
    summary: "Add a member to an organization (owner or org admin)",
};
pub const DELETE_MEMBER: Route = Route {
    method: Method::Delete,
    path: "/organizations/{id}/members/{userId}",
    function: MEMBERS,
    auth: Auth::User,
    summary: "Remove a member (owner or org admin, or the member themself)",
};

pub const FUNCTIONS: &[Function] = &[IDENTITIES_MANAGEMENT, PROFILES, ORGS, MEMBERS];

pub const ROUTES: &[Route] = &[
    CREATE_IDENTITY,
    GET_IDENTITY,
    DELETE_IDENTITY,
    GET_PROFILE,
    UPDATE_PROFILE,
    DELETE_PROFILE,
    LIST_ORGS,
    CREATE_ORG,
    UPDATE_ORG,
    LIST_MEMBERS,
    ADD_MEMBER,
    DELETE_MEMBER,
];

pub const MODULE: Module = Module { name: MODULE_NAME, functions: FUNCTIONS, routes: ROUTES };

#[cfg(test)]
mod tests {
    #[test]
    fn seed_counts() {
        assert_eq!(super::FUNCTIONS.len(), 4);
        assert_eq!(super::ROUTES.len(), 12);
        for f in super::FUNCTIONS {
            assert_eq!(super::MODULE.routes_of(*f).count(), 3, "{} should own 3 routes", f.name);
        }
    }
}
