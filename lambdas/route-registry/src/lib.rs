//! The platform's HTTP routes, as constants shared by the Lambda handlers and the Terraform stacks.
//!
//! One constant per route (method, path template, owning function, auth requirement, summary); the stacks turn
//! each into exactly one API Gateway route and the handlers dispatch on the same constants, so no route string
//! is written twice. Architecture invariant: this crate depends on serde only; it knows nothing about
//! Terraform, HTTP libraries or Lambda.

use std::fmt;

use serde::Serialize;

pub mod org;
// new-module: module declarations above this line

/// The HTTP methods the platform's API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Parses an upper-case method name as API Gateway sends it.
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may call a route, beyond holding a valid token (every route sits behind the Lambda authorizer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// Any authenticated caller; the handler and Row-Level Security decide what they see.
    User,
    /// Only callers in the `admin` group.
    Admin,
    /// Callers in the `admin` group, or the caller the resource belongs to.
    AdminOrSelf,
}

/// A Lambda function that serves routes: `{env}-{module}-{name}`, built from the binary `binary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Function {
    /// The CORA module, kebab-case (`org-module`).
    pub module: &'static str,
    /// The function's name inside its module, kebab-case (`profiles`).
    pub name: &'static str,
    /// The Cargo binary (and package) that implements it (`org-profiles`).
    pub binary: &'static str,
}

/// One API route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Route {
    pub method: Method,
    /// The path template as API Gateway writes it, with `{param}` segments.
    pub path: &'static str,
    pub function: Function,
    pub auth: Auth,
    pub summary: &'static str,
}

impl Route {
    /// The API Gateway route key: `GET /organizations/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The names of the path parameters, in order (`["id", "userId"]`).
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// Matches a concrete path against the template; returns the parameter values by name.
    ///
    /// A parameter matches one non-empty segment; a trailing slash does not match.
    pub fn match_path<'p>(&self, path: &'p str) -> Option<Vec<(&'static str, &'p str)>> {
        let mut params = Vec::new();
        let mut want = self.path.split('/');
        let mut have = path.split('/');
        loop {
            match (want.next(), have.next()) {
                (None, None) => return Some(params),
                (Some(w), Some(h)) => match w.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) if !h.is_empty() => params.push((name, h)),
                    Some(_) => return None,
                    None if w == h => {}
                    None => return None,
                },
                _ => return None,
            }
        }
    }
}

/// A CORA module: its functions and the routes they serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Module {
    pub name: &'static str,
    pub functions: &'static [Function],
    pub routes: &'static [Route],
}

impl Module {
    /// The routes one function owns.
    pub fn routes_of(&self, function: Function) -> impl Iterator<Item = &'static Route> {
        self.routes.iter().filter(move |r| r.function == function)
    }
}

/// The platform's Lambda authorizer: it serves no route, it guards all of them.
pub const AUTHORIZER: Function = Function { module: "platform", name: "authorizer", binary: "platform-authorizer" };

/// Every module of the platform, in deployment order.
pub const MODULES: &[Module] = &[
    org::MODULE,
    // new-module: modules above this line
];

/// Every route of every module.
pub fn all_routes() -> impl Iterator<Item = &'static Route> {
    MODULES.iter().flat_map(|m| m.routes.iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn route_keys_are_unique_and_functions_are_declared() {
        let mut keys = HashSet::new();
        for module in MODULES {
            for route in module.routes {
                assert!(keys.insert(route.key()), "duplicate route {}", route.key());
                assert!(module.functions.contains(&route.function), "{} owned by an undeclared function", route.key());
                assert_eq!(route.function.module, module.name);
            }
            for f in module.functions {
                assert!(module.routes_of(*f).count() > 0, "function {} serves no route", f.name);
            }
        }
    }

    #[test]
    fn path_matching() {
        let r = org::DELETE_MEMBER;
        assert_eq!(r.key(), "DELETE /organizations/{id}/members/{userId}");
        assert_eq!(r.path_params().collect::<Vec<_>>(), ["id", "userId"]);
        assert_eq!(r.match_path("/organizations/a/members/b"), Some(vec![("id", "a"), ("userId", "b")]));
        assert_eq!(r.match_path("/organizations/a/members/"), None);
        assert_eq!(r.match_path("/organizations/a/members"), None);
        assert_eq!(r.match_path("/organizations/a/members/b/c"), None);
        assert_eq!(org::GET_PROFILE.match_path("/profiles/me"), Some(vec![]));
        assert_eq!(org::GET_PROFILE.match_path("/profiles/you"), None);
    }
}
