//! Least-privilege rules over a synthesized root module (`*.tf.json` as JSON, not the Rust model, so a hand-edited
//! or raw-expression policy is judged too): what `cargo xtask check-iam` reports. Each finding reads
//! `env · address · statement · rule · why`.
//!
//! What a function may do is derived from the catalog with the same function the stacks use ([`crate::grants`]),
//! never read from the file being checked: a policy that grants more than the catalog declares is a finding, whatever
//! else the file says. A function that is not in the catalog is a finding too.
//!
//! Each rule is one small function over a [`Findings`] set (`RULES`); what is particular to a trigger kind (the
//! roles a schedule invokes with, who may invoke an objects-created function, a queue's mapping) is the kind's
//! ([`crate::triggers::Kind`]). Each action is reported under the first rule it breaks, and a finding is recorded
//! once, so one mistake gives one finding. Pure: JSON in, findings out.

use std::collections::BTreeMap;

use route_registry::Function;
use serde_json::Value;

use crate::env::Env;
use crate::findings::{as_list, as_statements, blocks, whole_ref};
pub use crate::findings::{Finding, Findings};
use crate::triggers::{self, IamAt, InvokerRole};
use crate::{grants, names};

/// Action globs that are acceptable, with the reason. Empty: nothing in this platform needs one.
pub const ACTION_GLOB_ALLOWLIST: &[(&str, &str)] = &[];

/// Actions AWS does not scope by resource, so `Resource: "*"` is the only possible grant.
pub const RESOURCE_STAR_ALLOWLIST: &[(&str, &str)] = &[
    ("xray:PutTraceSegments", "X-Ray has no resource-level permissions"),
    ("xray:PutTelemetryRecords", "X-Ray has no resource-level permissions"),
    ("cloudwatch:PutMetricData", "scoped by the cloudwatch:namespace condition, not by resource"),
];

/// Prefixes of actions that let a principal gain privileges; never on a Lambda role.
pub const ESCALATION_PREFIXES: &[&str] = &[
    "iam:PassRole",
    "iam:Create",
    "iam:Put",
    "iam:Attach",
    "iam:Update",
    "iam:Add",
    "iam:Set",
    "iam:Delete",
    "iam:Detach",
    "iam:Remove",
    "sts:AssumeRole",
    "lambda:UpdateFunction",
    "lambda:CreateFunction",
    "lambda:AddPermission",
    "lambda:CreateEventSourceMapping",
    "lambda:PutFunction",
];

/// IAM resource types this checker cannot see into; their presence is a finding.
const UNVERIFIABLE_TYPES: &[&str] = &[
    "aws_iam_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_user",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
    "aws_iam_role_policies_exclusive",
];

/// org_profiles' policy with one statement that breaks several rules (`s3:*`, `iam:PassRole` on `*`).
pub fn inject_bad_statement(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let slot = &mut doc["resource"]["aws_iam_role_policy"]["org_profiles"]["policy"];
    if let Some(mut policy) = slot.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
        if let Some(statements) = policy["Statement"].as_array_mut() {
            statements
                .push(serde_json::json!({"Effect": "Allow", "Action": ["s3:*", "iam:PassRole"], "Resource": "*"}));
        }
        *slot = Value::String(policy.to_string());
    }
    doc
}

/// The rule an action breaks when no grant of the function allows it.
fn undeclared_rule(action: &str) -> (&'static str, &'static str) {
    match action {
        "logs:CreateLogStream" | "logs:PutLogEvents" => {
            ("foreign-log-group", "only the function's own log group is allowed")
        }
        "secretsmanager:GetSecretValue" => ("undeclared-secret", "a secret the function does not declare"),
        "s3:GetObject" | "s3:PutObject" | "s3:DeleteObject" | "s3:DeleteObjectVersion" | "s3:ListBucketVersions" => {
            ("undeclared-object-access", "not a prefix the function declares for that access")
        }
        "kms:Decrypt" | "kms:GenerateDataKey" => {
            ("undeclared-key", "only a declared key, and only through a service (kms:ViaService)")
        }
        "kms:Sign" => {
            ("undeclared-key", "only the function's own module's service key, and only if it acts as its service")
        }
        a if a.starts_with("sqs:") => {
            ("undeclared-queue", "only its own queue (consumers), or the queues it declares it sends to")
        }
        "lambda:InvokeFunction" => ("undeclared-invoke", "a scheduler role invokes only its own function"),
        _ => ("undeclared-use", "not needed by anything the function declares"),
    }
}

/// Every finding for one environment's document, against the catalog compiled into this crate.
pub fn check(env: Env, doc: &Value) -> Vec<Finding> {
    let functions: Vec<Function> = route_registry::all_functions().collect();
    check_against(env, doc, &functions)
}

/// What the rules read: the document, the environment's settings, the catalog's functions by local name, and the
/// principals the document's roles serve (found by [`principals`]).
struct Review<'a> {
    at: IamAt<'a>,
    principals: Principals,
}

/// Who uses each role: the addresses that name it, and what the catalog says it may do.
#[derive(Default)]
struct Principals {
    users: BTreeMap<String, Vec<String>>,
    roles: BTreeMap<String, InvokerRole>,
}

/// The rules, in the order they run; each records what it finds.
const RULES: &[fn(&Review<'_>, &mut Findings)] =
    &[unverifiable_types, roles, policies, invoke_permissions, kinds_resources];

/// [`check`] against the given functions (the catalog's, or a test's variation of them), with the public routes of
/// the catalog (and of the template).
pub fn check_against(env: Env, doc: &Value, functions: &[Function]) -> Vec<Finding> {
    let public: Vec<String> = route_registry::all_routes()
        .chain(route_registry::modules::template::MODULE.routes)
        .filter(|r| r.is_public())
        .map(route_registry::Route::key)
        .collect();
    check_with_public_routes(env, doc, functions, &public)
}

/// [`check_against`], with the route keys that may be served without the authorizer given (a test's module).
pub fn check_with_public_routes(env: Env, doc: &Value, functions: &[Function], public: &[String]) -> Vec<Finding> {
    let settings = env.settings();
    let catalog: BTreeMap<String, Function> = functions.iter().map(|f| (crate::names::local(f), *f)).collect();
    let at = IamAt { doc, settings: &settings, catalog: &catalog, public_routes: public };
    let mut out = Findings::new(env);
    let review = Review { at, principals: principals(&at, &mut out) };
    for rule in RULES {
        rule(&review, &mut out);
    }
    out.into_vec()
}

/// IAM resource types this checker cannot see into; their presence is a finding.
fn unverifiable_types(r: &Review<'_>, out: &mut Findings) {
    for ty in UNVERIFIABLE_TYPES {
        for (name, _) in blocks(r.at.doc, ty) {
            out.add(
                &format!("{ty}.{name}"),
                "-",
                "unverifiable-iam",
                format!("{ty} is not allowed: grant through one inline aws_iam_role_policy per function role"),
            );
        }
    }
}

/// Every function is a catalog function on a role of this stack (trusted by Lambda, with its catalog grants); every
/// other role is one a trigger kind creates to start a function (a schedule's).
fn principals(at: &IamAt<'_>, out: &mut Findings) -> Principals {
    let roles: Vec<&str> = blocks(at.doc, "aws_iam_role").into_iter().map(|(n, _)| n).collect();
    let mut p = Principals::default();
    for (name, f) in blocks(at.doc, "aws_lambda_function") {
        let address = format!("aws_lambda_function.{name}");
        let Some(function) = at.catalog.get(name) else {
            out.add(
                &address,
                "-",
                "not-in-catalog",
                "no catalog function has this name, so nothing says what it may do; add it to the catalog or remove it"
                    .into(),
            );
            continue;
        };
        let role =
            f["role"].as_str().and_then(whole_ref).filter(|(ty, r, _)| *ty == "aws_iam_role" && roles.contains(r));
        let Some((_, role, _)) = role else {
            out.add(
                &address,
                "-",
                "role-not-in-stack",
                "the function's role must be an aws_iam_role of this stack".into(),
            );
            continue;
        };
        let kind = triggers::of(&function.trigger);
        p.users.entry(role.to_owned()).or_default().push(address.clone());
        p.roles.insert(
            role.to_owned(),
            InvokerRole {
                role: role.to_owned(),
                used_by: address,
                function: *function,
                service: "lambda.amazonaws.com",
                account_bound: false,
                grants: grants::of(function, at.settings, &kind.queues(function)),
            },
        );
    }
    for kind in triggers::ALL {
        for role in kind.invoker_roles(at, out) {
            p.users.entry(role.role.clone()).or_default().push(role.used_by.clone());
            p.roles.insert(role.role.clone(), role);
        }
    }
    for role in deployment_roles(at, &roles, out) {
        p.users.entry(role.role.clone()).or_default().push(role.used_by.clone());
        p.roles.insert(role.role.clone(), role);
    }
    p
}

/// The role each CodeDeploy deployment group releases its function with: the function's own deploy role, trusted
/// by CodeDeploy for this account only, which may shift that function's alias and read its alarms.
fn deployment_roles(at: &IamAt<'_>, roles: &[&str], out: &mut Findings) -> Vec<InvokerRole> {
    let mut found = Vec::new();
    for (name, g) in blocks(at.doc, "aws_codedeploy_deployment_group") {
        let address = format!("aws_codedeploy_deployment_group.{name}");
        let Some(function) = at.catalog.get(name).copied() else {
            out.add(&address, "-", "deployment-target", "a deployment group must release a catalog function".into());
            continue;
        };
        let role = g["service_role_arn"].as_str().and_then(whole_ref).filter(|(ty, r, attr)| {
            *ty == "aws_iam_role" && *r == names::deploy_role_local(&function) && *attr == "arn" && roles.contains(r)
        });
        match role {
            Some((_, role, _)) => found.push(InvokerRole {
                role: role.to_owned(),
                used_by: address,
                function,
                service: "codedeploy.amazonaws.com",
                account_bound: true,
                grants: grants::of_deployment(&function),
            }),
            None => out.add(
                &address,
                "-",
                "deployment-role",
                format!("the group must release through {}'s own deploy role", function.binary),
            ),
        }
    }
    found
}

/// Roles: no embedded or managed policies, one user each, and a trust policy for exactly their service.
fn roles(r: &Review<'_>, out: &mut Findings) {
    for (name, role) in blocks(r.at.doc, "aws_iam_role") {
        let address = format!("aws_iam_role.{name}");
        if role.get("managed_policy_arns").is_some() || role.get("inline_policy").is_some() {
            out.add(
                &address,
                "-",
                "unverifiable-iam",
                "managed or role-embedded policies are not allowed on function roles".into(),
            );
        }
        let users = r.principals.users.get(name).map(Vec::as_slice).unwrap_or_default();
        match users.len() {
            0 => out.add(&address, "-", "orphan-role", "no function uses this role; remove it".into()),
            1 => {}
            n => out.add(&address, "-", "shared-role", format!("{n} functions share this role: {}", users.join(", "))),
        }
        let (service, account_bound) = match r.principals.roles.get(name) {
            Some(p) => (p.service, p.account_bound),
            None => ("lambda.amazonaws.com", false),
        };
        if !trusts_only(role, service, account_bound) {
            let why = match account_bound {
                true => format!("the trust policy must be one statement letting only {service} assume the role, for resources of this account (aws:SourceAccount)"),
                false => format!("the trust policy must be one statement letting only {service} assume the role"),
            };
            out.add(&address, "trust", "trust-policy", why);
        }
    }
}

/// Whether a role's trust policy is one statement letting `service` alone assume it (with `account_bound`, only for
/// resources of this account: the confused-deputy guard).
fn trusts_only(role: &Value, service: &str, account_bound: bool) -> bool {
    let trust: Option<Value> = role["assume_role_policy"].as_str().and_then(|s| serde_json::from_str(s).ok());
    let statements = trust.as_ref().map(|t| as_statements(&t["Statement"])).unwrap_or_default();
    let [s] = statements.as_slice() else { return false };
    let condition_ok = match account_bound {
        true => {
            s["Condition"].as_object().is_some_and(|c| c.len() == 1)
                && s["Condition"]["StringEquals"].as_object().is_some_and(|c| c.len() == 1)
                && as_list(s["Condition"]["StringEquals"].get("aws:SourceAccount"))
                    == ["${data.aws_caller_identity.current.account_id}"]
        }
        false => s.get("Condition").is_none_or(|c| c.as_object().is_some_and(|m| m.is_empty())),
    };
    s["Effect"] == "Allow"
        && as_list(s.get("Action")) == ["sts:AssumeRole"]
        && s["Principal"].as_object().is_some_and(|p| p.len() == 1)
        && as_list(s["Principal"].get("Service")) == [service]
        && condition_ok
}

/// Inline policies: every statement against the grants of the role's one principal, derived from the catalog.
fn policies(r: &Review<'_>, out: &mut Findings) {
    for (name, policy) in blocks(r.at.doc, "aws_iam_role_policy") {
        let address = format!("aws_iam_role_policy.{name}");
        let role =
            policy["role"].as_str().and_then(whole_ref).filter(|(ty, _, _)| *ty == "aws_iam_role").map(|(_, r, _)| r);
        let Some(role) = role.filter(|role| r.principals.users.contains_key(*role)) else {
            out.add(
                &address,
                "-",
                "role-not-in-stack",
                "the policy must attach to a function role of this stack".into(),
            );
            continue;
        };
        // A role already reported as shared has no single function to compare with; its finding stands for the
        // policy too.
        let Some(principal) = r.principals.roles.get(role).filter(|_| r.principals.users[role].len() == 1) else {
            continue;
        };
        let parsed: Option<Value> = policy["policy"].as_str().and_then(|s| serde_json::from_str(s).ok());
        let Some(parsed) = parsed else {
            out.add(
                &address,
                "-",
                "unparseable-policy",
                "the policy is not a literal JSON document (a raw expression?), so it cannot be checked".into(),
            );
            continue;
        };
        for (i, s) in as_statements(&parsed["Statement"]).into_iter().enumerate() {
            let label = s["Sid"].as_str().map(str::to_owned).unwrap_or_else(|| format!("#{i}"));
            statement(&address, &label, s, principal, out);
        }
    }
}

/// One `Allow` statement of a principal's policy: no NotAction/NotResource, no `*` resource for what AWS scopes,
/// no wildcard, glob or escalating action, and each action on each resource one of the principal's grants allows.
fn statement(address: &str, label: &str, s: &Value, principal: &InvokerRole, out: &mut Findings) {
    if s["Effect"] != "Allow" {
        return;
    }
    if s.get("NotAction").is_some() || s.get("NotResource").is_some() {
        out.add(address, label, "not-action", "NotAction/NotResource with Allow grants everything not listed".into());
        return;
    }
    let actions = as_list(s.get("Action"));
    let resources = as_list(s.get("Resource"));
    if resources.iter().any(|r| r == "*")
        && !actions.iter().all(|a| RESOURCE_STAR_ALLOWLIST.iter().any(|(x, _)| x == a))
    {
        out.add(address, label, "wildcard-resource", "Resource \"*\" for actions AWS scopes by resource".into());
    }
    let condition = s.get("Condition").unwrap_or(&Value::Null);
    for action in &actions {
        if action == "*" || action.ends_with(":*") {
            out.add(address, label, "wildcard-action", format!("`{action}` grants a whole service"));
        } else if action.contains(['*', '?']) && !ACTION_GLOB_ALLOWLIST.iter().any(|(x, _)| x == action) {
            out.add(address, label, "action-glob", format!("`{action}` is a glob that is not in the allowlist"));
        } else if ESCALATION_PREFIXES.iter().any(|p| action.starts_with(p)) {
            out.add(
                address,
                label,
                "privilege-escalation",
                format!("`{action}` lets the function widen its own or another principal's rights"),
            );
        } else {
            undeclared(address, label, action, &resources, condition, principal, out);
        }
    }
}

/// An action no grant of the principal allows on a resource (`Resource: "*"` is the wildcard rule's, except for
/// X-Ray, which has no other).
fn undeclared(
    address: &str,
    label: &str,
    action: &str,
    resources: &[String],
    condition: &Value,
    principal: &InvokerRole,
    out: &mut Findings,
) {
    let local = crate::names::local(&principal.function);
    for r in resources.iter().filter(|r| r.as_str() != "*" || action.starts_with("xray:")) {
        if !grants::allows(&principal.grants, &local, action, r, condition) {
            let (rule, why) = undeclared_rule(action);
            out.add(address, label, rule, format!("`{action}` on {r}: {why} (catalog: {})", principal.function.binary));
        }
    }
}

/// Invoke permissions: each for a catalog function of this stack, for `lambda:InvokeFunction` only, and from what
/// its trigger kind says may start it (this API, or the documents bucket of this account; nothing else).
fn invoke_permissions(r: &Review<'_>, out: &mut Findings) {
    let apis: Vec<&str> = blocks(r.at.doc, "aws_apigatewayv2_api").into_iter().map(|(n, _)| n).collect();
    for (name, p) in blocks(r.at.doc, "aws_lambda_permission") {
        let address = format!("aws_lambda_permission.{name}");
        let target = p["function_name"]
            .as_str()
            .and_then(whole_ref)
            .filter(|(ty, _, _)| *ty == "aws_lambda_function")
            .and_then(|(_, f, _)| r.at.catalog.get(f));
        let Some(target) = target else {
            out.add(
                &address,
                "-",
                "permission-target",
                "the permission must be for a catalog function of this stack".into(),
            );
            continue;
        };
        let alias = format!("${{aws_lambda_alias.{}.name}}", names::local(target));
        if p["qualifier"] != alias.as_str() {
            out.add(
                &address,
                "-",
                "permission-qualifier",
                format!("the permission must be for the function's alias ({alias}), which is what invokes it"),
            );
        }
        if p["action"] != "lambda:InvokeFunction" {
            out.add(
                &address,
                "-",
                "permission-action",
                format!("action {} instead of lambda:InvokeFunction", p["action"]),
            );
        }
        triggers::of(&target.trigger).check_permission(&address, p, target, &apis, out);
    }
}

/// What each trigger kind alone creates (a queue's event source mappings).
fn kinds_resources(r: &Review<'_>, out: &mut Findings) {
    for kind in triggers::ALL {
        kind.check_resources(&r.at, out);
    }
}

/// The settings an environment's review reads (exposed for the kinds' tests).
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn synthesized(env: Env) -> Value {
        let options = crate::Options { example: true, ..Default::default() };
        serde_json::from_str(&crate::synth_with(env, &crate::Target::Aws, &options).unwrap().text).unwrap()
    }

    fn dev() -> Value {
        synthesized(Env::Dev)
    }

    fn rules(doc: &Value) -> Vec<(String, &'static str)> {
        check(Env::Dev, doc).into_iter().map(|f| (f.address, f.rule)).collect()
    }

    /// Adds a statement to org_profiles' policy.
    fn with_statement(statement: Value) -> Value {
        let mut doc = dev();
        let slot = &mut doc["resource"]["aws_iam_role_policy"]["org_profiles"]["policy"];
        let mut policy: Value = serde_json::from_str(slot.as_str().unwrap()).unwrap();
        policy["Statement"].as_array_mut().unwrap().push(statement);
        *slot = Value::String(policy.to_string());
        doc
    }

    const P: &str = "aws_iam_role_policy.org_profiles";

    #[test]
    fn the_canary_statement_is_a_finding_here_too() {
        let rules: Vec<&str> = check(Env::Dev, &inject_bad_statement(&dev())).into_iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["privilege-escalation", "wildcard-action", "wildcard-resource"]);
    }

    #[test]
    fn the_real_stacks_have_no_findings() {
        for env in Env::ALL {
            let findings = check(env, &synthesized(env));
            assert!(findings.is_empty(), "{env}: {findings:#?}");
        }
    }

    #[test]
    fn one_bad_statement_per_rule_gives_exactly_that_finding() {
        let bucket = "arn:aws:s3:::career-dev-documents/*";
        let cases = [
            (json!({"Effect": "Allow", "Action": "s3:*", "Resource": bucket}), "wildcard-action"),
            (json!({"Effect": "Allow", "Action": ["s3:Get*"], "Resource": bucket}), "action-glob"),
            (json!({"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}), "wildcard-resource"),
            (
                json!({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "arn:aws:iam::123456789012:role/admin"}),
                "privilege-escalation",
            ),
            (
                json!({"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": "arn:aws:iam::123456789012:role/admin"}),
                "privilege-escalation",
            ),
            (
                json!({"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "${aws_cloudwatch_log_group.org_orgs.arn}:*"}),
                "foreign-log-group",
            ),
            (
                json!({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "${aws_secretsmanager_secret.okta_api_token.arn}"}),
                "undeclared-secret",
            ),
            (json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": bucket}), "undeclared-object-access"),
            (
                json!({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}),
                "undeclared-queue",
            ),
            (
                json!({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "${aws_sqs_queue.org_invitation_import.arn}"}),
                "undeclared-queue",
            ),
            (
                json!({"Effect": "Allow", "Action": ["kms:Sign"], "Resource": "${aws_kms_key.org_module_service.arn}"}),
                "undeclared-key",
            ),
            (
                json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "${aws_lambda_function.org_orgs.arn}"}),
                "undeclared-invoke",
            ),
            (json!({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}), "not-action"),
        ];
        for (statement, rule) in cases {
            let doc = with_statement(statement.clone());
            assert_eq!(rules(&doc), [(P.to_owned(), rule)], "{statement}");
        }
        // A Deny statement is never a finding.
        assert!(rules(&with_statement(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}))).is_empty());
    }

    #[test]
    fn roles_permissions_and_unverifiable_policies() {
        let mut doc = dev();
        doc["resource"]["aws_iam_role"]["org_orgs"]["assume_role_policy"] = json!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#
        );
        assert_eq!(rules(&doc), [("aws_iam_role.org_orgs".to_owned(), "trust-policy")]);

        // Two functions on one role (the other role and its policy removed).
        let mut doc = dev();
        doc["resource"]["aws_lambda_function"]["org_orgs"]["role"] = json!("${aws_iam_role.org_members.arn}");
        doc["resource"]["aws_iam_role"].as_object_mut().unwrap().remove("org_orgs");
        doc["resource"]["aws_iam_role_policy"].as_object_mut().unwrap().remove("org_orgs");
        assert_eq!(rules(&doc), [("aws_iam_role.org_members".to_owned(), "shared-role")]);

        let mut doc = dev();
        doc["resource"]["aws_lambda_permission"]["org_orgs_api"]["principal"] = json!("events.amazonaws.com");
        assert_eq!(rules(&doc), [("aws_lambda_permission.org_orgs_api".to_owned(), "permission-principal")]);
        let mut doc = dev();
        doc["resource"]["aws_lambda_permission"]["org_orgs_api"]["source_arn"] =
            json!("arn:aws:execute-api:us-east-1:*:*/*");
        assert_eq!(rules(&doc), [("aws_lambda_permission.org_orgs_api".to_owned(), "permission-source")]);

        // One mistake, one finding: a permission for another action is reported once, and a permission that breaks
        // two rules at once (the action and the principal) is reported once under each.
        let mut doc = dev();
        doc["resource"]["aws_lambda_permission"]["org_orgs_api"]["action"] = json!("lambda:GetFunction");
        assert_eq!(rules(&doc), [("aws_lambda_permission.org_orgs_api".to_owned(), "permission-action")]);
        doc["resource"]["aws_lambda_permission"]["org_orgs_api"]["principal"] = json!("events.amazonaws.com");
        assert_eq!(
            rules(&doc),
            [
                ("aws_lambda_permission.org_orgs_api".to_owned(), "permission-action"),
                ("aws_lambda_permission.org_orgs_api".to_owned(), "permission-principal"),
            ]
        );

        let mut doc = dev();
        doc["resource"]["aws_iam_role_policy"]["org_orgs"]["policy"] =
            json!("${data.aws_iam_policy_document.orgs.json}");
        assert_eq!(rules(&doc), [("aws_iam_role_policy.org_orgs".to_owned(), "unparseable-policy")]);

        let mut doc = dev();
        doc["resource"]["aws_iam_role_policy_attachment"] = json!({"admin": {"role": "${aws_iam_role.org_orgs.name}", "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}});
        assert_eq!(rules(&doc), [("aws_iam_role_policy_attachment.admin".to_owned(), "unverifiable-iam")]);

        // A function the catalog does not have: nothing says what it may do.
        let mut doc = dev();
        let copy = doc["resource"]["aws_lambda_function"]["org_orgs"].clone();
        doc["resource"]["aws_lambda_function"]["rogue"] = copy;
        assert_eq!(rules(&doc), [("aws_lambda_function.rogue".to_owned(), "not-in-catalog")]);
    }

    /// The canary: a hand-edited policy granting what the catalog does not declare is a finding, even when the
    /// function's `"//"` property is edited to declare it (the check reads the catalog, not the file).
    #[test]
    fn a_grant_the_catalog_does_not_declare_is_caught_whatever_the_file_claims() {
        let mut doc = with_statement(
            json!({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "${aws_s3_bucket.documents.arn}/profiles/*"}),
        );
        doc["resource"]["aws_lambda_function"]["org_profiles"]["//"] = json!({"declared_uses": {
            "log_group": "aws_cloudwatch_log_group.org_profiles",
            "documents": [{"bucket": "aws_s3_bucket.documents", "prefix": "profiles/", "read": true, "write": false}],
        }});
        assert_eq!(rules(&doc), [(P.to_owned(), "undeclared-object-access")]);
    }

    /// A function that declares a documents prefix may get exactly that access; any other prefix or access is a
    /// finding.
    #[test]
    fn document_access_follows_the_declared_prefix() {
        use route_registry::{Access, Use};
        let declaring = |access: Access| -> Vec<Function> {
            let uses: &'static [Use] =
                Box::leak(Box::new([Use::Database, Use::Documents { prefix: "profiles", access }]));
            route_registry::all_functions()
                .map(|f| if f == route_registry::modules::org::PROFILES { Function { uses, ..f } } else { f })
                .collect()
        };
        let findings = |doc: &Value, functions: &[Function]| -> Vec<(String, &'static str)> {
            check_against(Env::Dev, doc, functions).into_iter().map(|f| (f.address, f.rule)).collect()
        };
        let granted = |action: &str, prefix: &str| json!({"Effect": "Allow", "Action": [action], "Resource": format!("${{aws_s3_bucket.documents.arn}}/{prefix}*")});
        let reads = declaring(Access::Read);
        assert!(findings(&with_statement(granted("s3:GetObject", "profiles/")), &reads).is_empty());
        assert_eq!(
            findings(&with_statement(granted("s3:PutObject", "profiles/")), &reads),
            [(P.to_owned(), "undeclared-object-access")],
            "write was not declared"
        );
        assert_eq!(
            findings(&with_statement(granted("s3:GetObject", "resumes/")), &declaring(Access::ReadWrite)),
            [(P.to_owned(), "undeclared-object-access")],
            "another prefix"
        );
        let key = json!({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "${aws_kms_key.platform.arn}"});
        assert_eq!(rules(&with_statement(key)), [(P.to_owned(), "undeclared-key")], "no kms:ViaService");
    }
}

#[cfg(test)]
mod trigger_tests {
    use super::*;
    use route_registry::modules::{org, template};
    use serde_json::json;

    /// The stack of org-module and the template (one function of each trigger kind), and its catalog.
    fn both() -> (Value, Vec<Function>) {
        let modules = [org::MODULE, template::MODULE];
        let text = crate::synth_catalog(Env::Dev.settings(), &crate::Target::Aws, &crate::Options::default(), &modules)
            .unwrap()
            .text;
        let functions =
            modules.iter().flat_map(|m| m.functions.iter().copied()).chain([route_registry::AUTHORIZER]).collect();
        (serde_json::from_str(&text).unwrap(), functions)
    }

    fn rules(doc: &Value, functions: &[Function]) -> Vec<(String, &'static str)> {
        check_against(Env::Dev, doc, functions).into_iter().map(|f| (f.address, f.rule)).collect()
    }

    fn add_statement(doc: &mut Value, policy: &str, statement: Value) {
        let slot = &mut doc["resource"]["aws_iam_role_policy"][policy]["policy"];
        let mut parsed: Value = serde_json::from_str(slot.as_str().unwrap()).unwrap();
        parsed["Statement"].as_array_mut().unwrap().push(statement);
        *slot = Value::String(parsed.to_string());
    }

    #[test]
    fn every_trigger_kind_holds_and_each_widening_is_a_finding() {
        let (clean, functions) = both();
        assert!(rules(&clean, &functions).is_empty(), "{:#?}", rules(&clean, &functions));

        // A consumer that may also send to its queue; a producer that may read the queue it feeds.
        let mut doc = clean.clone();
        let queue = "${aws_sqs_queue.template_gizmo_indexer.arn}";
        add_statement(
            &mut doc,
            "template_gizmo_indexer",
            json!({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue}),
        );
        add_statement(
            &mut doc,
            "template_gizmos",
            json!({"Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": queue}),
        );
        assert_eq!(
            rules(&doc, &functions),
            [
                ("aws_iam_role_policy.template_gizmo_indexer".to_owned(), "undeclared-queue"),
                ("aws_iam_role_policy.template_gizmos".to_owned(), "undeclared-queue"),
            ]
        );

        // Signing with another module's key.
        let mut doc = clean.clone();
        add_statement(
            &mut doc,
            "template_gizmo_indexer",
            json!({"Effect": "Allow", "Action": ["kms:Sign"], "Resource": "${aws_kms_key.org_module_service.arn}"}),
        );
        assert_eq!(
            rules(&doc, &functions),
            [("aws_iam_role_policy.template_gizmo_indexer".to_owned(), "undeclared-key")]
        );

        // A scheduler role that may invoke another function, or that any account's schedules may use.
        let mut doc = clean.clone();
        add_statement(
            &mut doc,
            "template_gizmo_sweep_scheduler",
            json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "${aws_lambda_alias.org_members.arn}"}),
        );
        assert_eq!(
            rules(&doc, &functions),
            [("aws_iam_role_policy.template_gizmo_sweep_scheduler".to_owned(), "undeclared-invoke")]
        );
        let mut doc = clean.clone();
        doc["resource"]["aws_iam_role"]["template_gizmo_sweep_scheduler"]["assume_role_policy"] = json!(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"scheduler.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#
        );
        assert_eq!(
            rules(&doc, &functions),
            [("aws_iam_role.template_gizmo_sweep_scheduler".to_owned(), "trust-policy")]
        );

        // The bucket's permission without the account; a queue-fed function invocable through the API.
        let mut doc = clean.clone();
        doc["resource"]["aws_lambda_permission"]["template_gizmo_uploads_s3"]
            .as_object_mut()
            .unwrap()
            .remove("source_account");
        let mut api = doc["resource"]["aws_lambda_permission"]["org_orgs_api"].clone();
        api["function_name"] = json!("${aws_lambda_function.template_gizmo_indexer.function_name}");
        api["qualifier"] = json!("${aws_lambda_alias.template_gizmo_indexer.name}");
        doc["resource"]["aws_lambda_permission"]["rogue_api"] = api;
        assert_eq!(
            rules(&doc, &functions),
            [
                ("aws_lambda_permission.rogue_api".to_owned(), "permission-principal"),
                ("aws_lambda_permission.template_gizmo_uploads_s3".to_owned(), "permission-source"),
            ]
        );

        // Around the alias: a permission for the function itself (any version), a queue feeding the function
        // rather than its alias.
        let mut doc = clean.clone();
        doc["resource"]["aws_lambda_permission"]["org_orgs_api"].as_object_mut().unwrap().remove("qualifier");
        doc["resource"]["aws_lambda_event_source_mapping"]["template_gizmo_indexer"]["function_name"] =
            json!("${aws_lambda_function.template_gizmo_indexer.arn}");
        assert_eq!(
            rules(&doc, &functions),
            [
                ("aws_lambda_event_source_mapping.template_gizmo_indexer".to_owned(), "mapping-target"),
                ("aws_lambda_permission.org_orgs_api".to_owned(), "permission-qualifier"),
            ]
        );

        // A worker fed from another module's queue; a schedule that targets an HTTP function.
        let mut doc = clean.clone();
        doc["resource"]["aws_lambda_event_source_mapping"]["template_gizmo_indexer"]["event_source_arn"] =
            json!("${aws_sqs_queue.org_invitation_import.arn}");
        doc["resource"]["aws_scheduler_schedule"]["template_gizmo_sweep"]["target"]["arn"] =
            json!("${aws_lambda_function.template_gizmos.arn}");
        let found = rules(&doc, &functions);
        assert!(
            found.contains(&("aws_lambda_event_source_mapping.template_gizmo_indexer".to_owned(), "mapping-source")),
            "{found:?}"
        );
        assert!(
            found.contains(&("aws_scheduler_schedule.template_gizmo_sweep".to_owned(), "schedule-target")),
            "{found:?}"
        );
    }
}
