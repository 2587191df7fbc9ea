//! The names that join the catalog to what is derived from it, each computed here and nowhere else: a function's
//! Terraform local name and deployed name, where its package is built, a route's local name, and the local names of
//! the platform resources that functions are granted (the IAM check compares references with them).
//!
//! Anything that needs one of these names calls these functions; no other code turns a binary into a local name.

use route_registry::{Function, Route};

use crate::env::Settings;

/// The local name of the environment's KMS key (`aws_kms_key.platform`).
pub const KEY: &str = "platform";
/// The local name of the Okta API token secret.
pub const OKTA_SECRET: &str = "okta_api_token";
/// The local name of the documents bucket.
pub const DOCUMENTS: &str = "documents";
/// The local name of the environment's schedule group.
pub const SCHEDULE_GROUP: &str = "platform";

/// `org-profiles` → `org_profiles`: the local name of everything that belongs to one function.
pub fn local(f: &Function) -> String {
    snake(f.binary)
}

/// The local name of a queue-triggered function's queue (`aws_sqs_queue.org_invitation_import`).
pub fn queue_local(f: &Function) -> String {
    local(f)
}

/// The local name of a function's dead-letter queue: its queue's failures, or its failed asynchronous runs
/// (`aws_sqs_queue.org_invitation_import_dlq`).
pub fn dlq_local(f: &Function) -> String {
    format!("{}_dlq", local(f))
}

/// The alias every function is invoked through (`aws_lambda_alias.<local>`, named `live`): what API Gateway, the
/// queue's mapping, the schedule and the bucket's notification target, so a release moves one pointer.
pub const ALIAS: &str = "live";

/// The local name of the role CodeDeploy shifts a function's alias with.
pub fn deploy_role_local(f: &Function) -> String {
    format!("{}_deploy", local(f))
}

/// The local name of the environment's CodeDeploy application (`aws_codedeploy_app.lambda`).
pub const DEPLOY_APP: &str = "lambda";

/// The local name of the role EventBridge Scheduler invokes a scheduled function with.
pub fn scheduler_role_local(f: &Function) -> String {
    format!("{}_scheduler", local(f))
}

/// The local name of a module's service key (`aws_kms_key.org_module_service`), which signs its service
/// principal's client assertions.
pub fn service_key_local(module: &str) -> String {
    format!("{}_service", snake(module))
}

/// `career-dev` style names and binaries as Terraform identifiers.
pub fn snake(kebab: &str) -> String {
    kebab.replace('-', "_")
}

/// `{stage}-{module}-{name}`, the deployed function's name (`dev-org-module-orgs`, a preview's `pr-7-org-module-orgs`).
pub fn function_name(settings: &Settings, f: &Function) -> String {
    format!("{}-{}-{}", settings.stage, f.module, f.name)
}

/// Where the packages are built, relative to the workspace root.
pub const PACKAGES_DIR: &str = "target/lambda";

/// `target/lambda/<package>/bootstrap.zip`: the package of a function's module, relative to the workspace root
/// (`cargo xtask build` writes it; the stacks refer to it from `build/<env>/`). A module has one binary, deployed to
/// each of its functions; the function's handler (its catalog `binary`) picks what it serves.
pub fn zip_path(f: &Function) -> String {
    format!("{PACKAGES_DIR}/{}/bootstrap.zip", f.package())
}

/// The package a path names: the inverse of [`zip_path`], for reading a committed stack.
pub fn package_of_zip_path(path: &str) -> Option<&str> {
    let rest = &path[path.find(PACKAGES_DIR)? + PACKAGES_DIR.len()..];
    rest.strip_prefix('/')?.strip_suffix("/bootstrap.zip").filter(|b| !b.is_empty() && !b.contains('/'))
}

/// The name of the local that holds a package's path (`zip_org_module`), shared by the package's functions.
pub fn zip_local(f: &Function) -> String {
    format!("zip_{}", snake(f.package()))
}

/// `GET /organizations/{id}/members/{userId}` → `get_organizations_id_members_user_id`.
pub fn route_local(route: &Route) -> String {
    route_key_local(&route.key())
}

/// The local name of a route, from its key.
pub fn route_key_local(key: &str) -> String {
    let (method, path) = key.split_once(' ').unwrap_or((key, ""));
    let mut out = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('_');
        for c in seg.chars().filter(|c| c.is_ascii_alphanumeric()) {
            if c.is_ascii_uppercase() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_local_names_are_readable_and_unique() {
        let names: Vec<String> = route_registry::all_routes().map(route_local).collect();
        assert!(names.contains(&"delete_organizations_id_members_user_id".to_owned()), "{names:?}");
        assert!(names.contains(&"get_profiles_me".to_owned()));
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn a_zip_path_names_its_package_and_back() {
        for f in route_registry::all_functions() {
            let path = format!("${{path.module}}/../../{}", zip_path(&f));
            assert_eq!(package_of_zip_path(&path), Some(f.package()), "{path}");
        }
        assert_eq!(package_of_zip_path("target/lambda/bootstrap.zip"), None);
        assert_eq!(package_of_zip_path("elsewhere/org-module/bootstrap.zip"), None);
    }
}
