//! The least-privilege rules over the pipeline's access (`crate::pipeline`), read from the synthesized bootstrap
//! root of an environment and its platform root, as `check-iam` reads every other policy:
//!
//! - `pipeline-trust`: each pipeline role trusts only GitHub's OIDC provider, for `sts:AssumeRoleWithWebIdentity`,
//!   with the audience `sts.amazonaws.com` and the exact `sub` of this repository's environment (`<env>` for the
//!   deploy role, `<env>-plan` for the plan role): no `StringLike`, no wildcard;
//! - `pipeline-glob`: no `*` or `<service>:*` action;
//! - `pipeline-resource-star`: `Resource: "*"` only for actions IAM cannot scope ([`crate::pipeline::ANY_RESOURCE`]);
//! - `pipeline-boundary`: a role can be created, or its policy written, only with the environment's boundary; a role
//!   can be passed only to Lambda, CodeDeploy or EventBridge Scheduler; no IAM action on the pipeline's own roles;
//! - `pipeline-no-data`: neither role reads a secret's value, decrypts, or reads an object outside the state bucket
//!   and the packages' artifacts bucket;
//! - `pipeline-read-only`: the plan role reads (Get, List, Describe), besides the state's lock object;
//! - `platform-boundary`: every role of the platform carries the boundary, and the boundary allows every action the
//!   platform's policies use (else a function would fail at run time) and no IAM.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::env::Env;
use crate::findings::{as_list, as_statements, blocks, Finding, Findings};
use crate::pipeline::{subject, ANY_RESOURCE, GITHUB_ISSUER};

fn parsed(v: &Value) -> Value {
    v.as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null)
}

/// The rules over `bootstrap` (the environment's bootstrap root) and `platform` (its platform root).
pub fn check(env: Env, bootstrap: &Value, platform: &Value) -> Vec<Finding> {
    let mut out = Findings::new(env);
    let s = env.settings();
    let roles = blocks(bootstrap, "aws_iam_role");
    for want in ["deploy", "plan"] {
        if !roles.iter().any(|(n, _)| *n == want) {
            out.add(&format!("aws_iam_role.{want}"), "-", "pipeline-trust", "the pipeline role is missing".into());
        }
    }
    for (name, role) in &roles {
        let address = format!("aws_iam_role.{name}");
        let environment = match *name {
            "plan" => format!("{env}-plan"),
            "preview" => crate::pipeline::PREVIEW_ENVIRONMENT.to_owned(),
            _ => env.to_string(),
        };
        trust(&mut out, &address, &parsed(&role["assume_role_policy"]), &subject(s.github_repository, &environment));
    }
    let own_roles = format!("role/{}-", s.name_prefix);
    for (name, policy) in blocks(bootstrap, "aws_iam_role_policy") {
        let address = format!("aws_iam_role_policy.{name}");
        for (i, st) in as_statements(&parsed(&policy["policy"])["Statement"]).into_iter().enumerate() {
            let label = st["Sid"].as_str().map(str::to_owned).unwrap_or_else(|| format!("#{i}"));
            let actions = as_list(st.get("Action"));
            let resources = as_list(st.get("Resource"));
            let condition = &st["Condition"];
            for a in &actions {
                if a == "*" || a.ends_with(":*") {
                    out.add(&address, &label, "pipeline-glob", format!("{a} grants a whole service"));
                }
                if resources.iter().any(|r| r == "*") && !ANY_RESOURCE.iter().any(|(x, _)| x == a) {
                    out.add(
                        &address,
                        &label,
                        "pipeline-resource-star",
                        format!("{a} on \"*\" (IAM can scope it: name the environment's resources)"),
                    );
                }
                let creates =
                    ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"];
                if creates.contains(&a.as_str()) && condition["StringEquals"]["iam:PermissionsBoundary"].is_null() {
                    out.add(&address, &label, "pipeline-boundary", format!("{a} without the iam:PermissionsBoundary condition: it could make a role stronger than itself"));
                }
                if a == "iam:PassRole" && condition["StringEquals"]["iam:PassedToService"].is_null() {
                    out.add(&address, &label, "pipeline-boundary", "iam:PassRole to any service".into());
                }
                let lists = a.starts_with("iam:List") || a.starts_with("iam:Get");
                if a.starts_with("iam:") && !lists && resources.iter().any(|r| r == "*" || r.contains(&own_roles)) {
                    out.add(
                        &address,
                        &label,
                        "pipeline-boundary",
                        format!("{a} could change the pipeline's own roles"),
                    );
                }
                if a == "iam:DeleteRolePermissionsBoundary" || a == "iam:AttachRolePolicy" {
                    out.add(&address, &label, "pipeline-boundary", format!("{a} would lift or bypass the boundary"));
                }
                // Objects may be read in the state bucket and the packages' artifacts bucket only.
                let ours = |r: &String| {
                    r.contains(&format!(":s3:::{}/", s.backend.bucket))
                        || r.contains(&format!(":s3:::{}-artifacts-", s.name_prefix))
                };
                let reads_data = a == "secretsmanager:GetSecretValue"
                    || a == "kms:Decrypt"
                    || (a.starts_with("s3:GetObject") && !resources.iter().all(ours));
                if reads_data {
                    out.add(
                        &address,
                        &label,
                        "pipeline-no-data",
                        format!("{a}: the pipeline never reads the platform's data"),
                    );
                }
                if name == "plan" {
                    let op = a.split_once(':').map(|(_, op)| op).unwrap_or(a);
                    let reads = ["Get", "List", "Describe"].iter().any(|p| op.starts_with(p)) || a == "apigateway:GET";
                    let lock = resources.iter().all(|r| r.ends_with("terraform.tfstate.tflock"));
                    if !reads && !lock {
                        out.add(&address, &label, "pipeline-read-only", format!("{a}: the plan role only reads"));
                    }
                }
            }
        }
    }
    boundary(&mut out, bootstrap, platform, &s.name_prefix);
    out.into_vec()
}

fn trust(out: &mut Findings, address: &str, doc: &Value, sub: &str) {
    let statements = as_statements(&doc["Statement"]);
    if statements.len() != 1 {
        out.add(
            address,
            "trust",
            "pipeline-trust",
            format!("{} statements; exactly one is expected", statements.len()),
        );
    }
    for st in statements {
        let federated = st["Principal"]["Federated"].as_str().unwrap_or_default();
        if !federated.ends_with(&format!(":oidc-provider/{GITHUB_ISSUER}"))
            || st["Principal"].as_object().is_some_and(|p| p.len() != 1)
        {
            out.add(
                address,
                "trust",
                "pipeline-trust",
                format!("trusts {} instead of GitHub's OIDC provider alone", st["Principal"]),
            );
        }
        if as_list(st.get("Action")) != ["sts:AssumeRoleWithWebIdentity"] {
            out.add(address, "trust", "pipeline-trust", format!("allows {:?}", as_list(st.get("Action"))));
        }
        let conditions = st["Condition"].as_object().cloned().unwrap_or_default();
        if conditions.keys().any(|k| k != "StringEquals") {
            out.add(
                address,
                "trust",
                "pipeline-trust",
                format!("conditions other than StringEquals: {:?}", conditions.keys().collect::<Vec<_>>()),
            );
        }
        let equals = &st["Condition"]["StringEquals"];
        if as_list(equals.get(format!("{GITHUB_ISSUER}:aud").as_str())) != ["sts.amazonaws.com"] {
            out.add(address, "trust", "pipeline-trust", "the audience is not exactly sts.amazonaws.com".into());
        }
        let subs = as_list(equals.get(format!("{GITHUB_ISSUER}:sub").as_str()));
        if subs != [sub] {
            out.add(address, "trust", "pipeline-trust", format!("the subject is {subs:?}, not exactly [{sub:?}]"));
        }
    }
}

fn boundary(out: &mut Findings, bootstrap: &Value, platform: &Value, prefix: &str) {
    let Some((_, policy)) = blocks(bootstrap, "aws_iam_policy").into_iter().find(|(n, _)| *n == "boundary") else {
        out.add(
            "aws_iam_policy.boundary",
            "-",
            "platform-boundary",
            "the environment has no permissions boundary".into(),
        );
        return;
    };
    let doc = parsed(&policy["policy"]);
    let mut allowed = BTreeSet::new();
    for st in as_statements(&doc["Statement"]) {
        let actions = as_list(st.get("Action"));
        if st["Effect"] == "Allow" {
            for a in &actions {
                if a.starts_with("iam:") || a.starts_with("sts:") || a == "*" {
                    out.add(
                        "aws_iam_policy.boundary",
                        "allow",
                        "platform-boundary",
                        format!("the boundary allows {a}"),
                    );
                }
            }
            allowed.extend(actions);
        }
    }
    let name = format!(":policy/{prefix}-boundary");
    for (role, block) in blocks(platform, "aws_iam_role") {
        if !block["permissions_boundary"].as_str().is_some_and(|b| b.ends_with(&name)) {
            out.add(
                &format!("aws_iam_role.{role}"),
                "-",
                "platform-boundary",
                format!("the role does not carry {prefix}-boundary"),
            );
        }
    }
    for (local, block) in blocks(platform, "aws_iam_role_policy") {
        for st in as_statements(&parsed(&block["policy"])["Statement"]) {
            for a in as_list(st.get("Action")).into_iter().filter(|a| !allowed.contains(a)) {
                out.add(
                    &format!("aws_iam_role_policy.{local}"),
                    "-",
                    "platform-boundary",
                    format!("{a} is outside the boundary: the call would be denied at run time; run `cargo xtask bootstrap`"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::check;
    use crate::provider::Target;
    use crate::Env;

    fn docs(env: Env) -> (Value, Value) {
        let boot = crate::bootstrap::synth(env, &Target::Aws, false).expect("bootstrap synth");
        let options = crate::Options { example: true, ..crate::Options::default() };
        let platform = crate::synth_with(env, &Target::Aws, &options).expect("platform synth").text;
        (serde_json::from_str(&boot).expect("JSON"), serde_json::from_str(&platform).expect("JSON"))
    }

    fn policy_mut<'a>(doc: &'a mut Value, ty: &str, name: &str, attr: &str) -> (Value, &'a mut Value) {
        let slot = &mut doc["resource"][ty][name][attr];
        (serde_json::from_str(slot.as_str().expect("a policy string")).expect("JSON"), slot)
    }

    #[test]
    fn every_environments_pipeline_roles_keep_the_rules() {
        for env in Env::ALL {
            let (boot, platform) = docs(env);
            assert_eq!(check(env, &boot, &platform), Vec::new(), "{env}");
        }
    }

    #[test]
    fn a_loose_trust_a_glob_and_a_role_without_boundary_are_found() {
        let (mut boot, mut platform) = docs(Env::Prd);
        // Any branch of any repository's workflows (StringLike on a wildcard subject).
        let (mut trust, slot) = policy_mut(&mut boot, "aws_iam_role", "deploy", "assume_role_policy");
        let cond = trust["Statement"][0]["Condition"].take();
        trust["Statement"][0]["Condition"] = json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:example-org/*"},
            "StringEquals": {"token.actions.githubusercontent.com:aud": cond["StringEquals"]["token.actions.githubusercontent.com:aud"].clone()}});
        *slot = json!(trust.to_string());
        // A whole service, a role created without the boundary, and a secret's value.
        let (mut policy, slot) = policy_mut(&mut boot, "aws_iam_role_policy", "deploy", "policy");
        let statements = policy["Statement"].as_array_mut().expect("statements");
        statements.push(json!({"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}));
        statements.push(json!({"Effect": "Allow", "Action": ["iam:CreateRole", "secretsmanager:GetSecretValue"], "Resource": ["arn:aws:iam::1:role/prd-x"]}));
        *slot = json!(policy.to_string());
        // The plan role writes.
        let (mut plan, slot) = policy_mut(&mut boot, "aws_iam_role_policy", "plan", "policy");
        plan["Statement"].as_array_mut().expect("statements").push(json!({"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": "arn:aws:lambda:us-east-1:1:function:prd-x"}));
        *slot = json!(plan.to_string());
        // A platform role without the boundary.
        let first =
            platform["resource"]["aws_iam_role"].as_object().and_then(|o| o.keys().next().cloned()).expect("a role");
        platform["resource"]["aws_iam_role"][&first].as_object_mut().expect("a role").remove("permissions_boundary");
        let found = check(Env::Prd, &boot, &platform);
        let rules: Vec<(&str, &str)> = found.iter().map(|f| (f.address.as_str(), f.rule)).collect();
        for expected in [
            ("aws_iam_role.deploy", "pipeline-trust"),
            ("aws_iam_role_policy.deploy", "pipeline-glob"),
            ("aws_iam_role_policy.deploy", "pipeline-resource-star"),
            ("aws_iam_role_policy.deploy", "pipeline-boundary"),
            ("aws_iam_role_policy.deploy", "pipeline-no-data"),
            ("aws_iam_role_policy.plan", "pipeline-read-only"),
        ] {
            assert!(rules.contains(&expected), "{expected:?} not in {found:#?}");
        }
        assert!(found.iter().any(|f| f.rule == "platform-boundary" && f.address == format!("aws_iam_role.{first}")));
    }

    #[test]
    fn an_action_the_platform_needs_outside_the_boundary_is_found() {
        let (mut boot, platform) = docs(Env::Dev);
        let (mut boundary, slot) = policy_mut(&mut boot, "aws_iam_policy", "boundary", "policy");
        let actions = boundary["Statement"][0]["Action"].as_array_mut().expect("actions");
        actions.retain(|a| a != "sqs:SendMessage");
        *slot = json!(boundary.to_string());
        let found = check(Env::Dev, &boot, &platform);
        assert!(
            !found.is_empty()
                && found.iter().all(|f| f.rule == "platform-boundary" && f.why.starts_with("sqs:SendMessage")),
            "{found:#?}"
        );
    }
}
