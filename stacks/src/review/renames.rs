//! The rename guard, a deploy-safety rule: when a resource type loses addresses and gains others in one synth,
//! Terraform would destroy and recreate them (a log group loses its logs, a role and its function are replaced, a
//! route flickers). Each vanished address must be the source of a declared move (`Module::renamed`), or accepted as a
//! replacement; otherwise synth refuses, naming the catalog line to add. Pure: the committed and the new rendering
//! in, a verdict out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Likely renames, each with what to declare or accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("likely renames, which Terraform would destroy and recreate (nothing was written):\n  {}", problems.join("\n  "))]
pub struct LikelyRenames {
    pub problems: Vec<String>,
}

/// Resource names by type.
fn addresses(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (ty, by_name) in doc["resource"].as_object().into_iter().flatten() {
        out.entry(ty.clone()).or_default().extend(by_name.as_object().into_iter().flatten().map(|(n, _)| n.clone()));
    }
    out
}

/// The binary of the function a resource name belongs to, read from the handler of its Lambda function in that
/// rendering (the function whose local name is the longest prefix of `name`; its module's binary serves the function
/// its handler names).
fn binary_of(doc: &Value, name: &str) -> Option<String> {
    let functions = doc["resource"]["aws_lambda_function"].as_object()?;
    let (_, lambda) =
        functions.iter().filter(|(local, _)| name.starts_with(local.as_str())).max_by_key(|(l, _)| l.len())?;
    lambda["handler"].as_str().map(str::to_owned)
}

/// Checks the new rendering against the committed one; `accepted` lists addresses that may be replaced.
pub fn guard(committed: &str, new: &str, accepted: &[String]) -> Result<(), LikelyRenames> {
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or_default();
    let (old, new) = (parse(committed), parse(new));
    let moved: Vec<(String, String)> = new["moved"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (m["from"].as_str().unwrap_or_default().to_owned(), m["to"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let (before, after) = (addresses(&old), addresses(&new));
    let mut problems = Vec::new();
    for (ty, old_names) in &before {
        let empty = BTreeSet::new();
        let new_names = after.get(ty).unwrap_or(&empty);
        let vanished: Vec<&String> = old_names
            .iter()
            .filter(|n| !new_names.contains(*n))
            .filter(|n| !moved.iter().any(|(from, _)| *from == format!("{ty}.{n}")))
            .filter(|n| !accepted.contains(&format!("{ty}.{n}")))
            .collect();
        let appeared: Vec<&String> = new_names
            .iter()
            .filter(|n| !old_names.contains(*n))
            .filter(|n| !moved.iter().any(|(_, to)| *to == format!("{ty}.{n}")))
            .collect();
        if vanished.is_empty() || appeared.is_empty() {
            continue;
        }
        let declare = if ty == "aws_apigatewayv2_route" {
            let key =
                |doc: &Value, n: &str| doc["resource"][ty.as_str()][n]["route_key"].as_str().unwrap_or(n).to_owned();
            format!("Rename::Route {{ from: \"{}\", to: \"{}\" }}", key(&old, vanished[0]), key(&new, appeared[0]))
        } else {
            match (binary_of(&old, vanished[0]), binary_of(&new, appeared[0])) {
                (Some(from), Some(to)) => {
                    format!("Rename::Function {{ from: \"{from}\", to: \"{to}\" }} (for a function's resources)")
                }
                _ => "a Rename of the function or route these belong to".to_owned(),
            }
        };
        problems.push(format!(
            "{ty}: {} gone while {} appeared. If it is a rename, declare it in the module's catalog entry (`renamed: &[{declare}]`); if the replacement is intended, pass {}",
            vanished.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "),
            appeared.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "),
            vanished.iter().map(|n| format!("--accept-replacement {ty}.{n}")).collect::<Vec<_>>().join(" ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LikelyRenames { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{synth_catalog, Env, Options, Target};
    use route_registry::modules::org;
    use route_registry::{Function, Module, Rename};

    fn render(module: Module) -> String {
        synth_catalog(Env::Dev.settings(), &Target::Aws, &Options::default(), &[module]).unwrap().text
    }

    /// `org-orgs` renamed to `org-organizations` (all its resources change address).
    fn renamed() -> Module {
        let mut module = org::MODULE;
        let functions: Vec<Function> = org::FUNCTIONS
            .iter()
            .map(|f| if *f == org::ORGS { Function { binary: "org-organizations", ..*f } } else { *f })
            .collect();
        let functions: &'static [Function] = Box::leak(functions.into_boxed_slice());
        let routes: Vec<route_registry::Route> = org::ROUTES
            .iter()
            .map(|r| {
                let at = org::FUNCTIONS.iter().position(|f| *f == r.function).unwrap();
                route_registry::Route { function: functions[at], ..*r }
            })
            .collect();
        module.functions = functions;
        module.routes = Box::leak(routes.into_boxed_slice());
        module
    }

    #[test]
    fn an_undeclared_rename_is_refused_naming_the_binaries_to_declare() {
        let err = guard(&render(org::MODULE), &render(renamed()), &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("aws_lambda_function: org_orgs gone while org_organizations appeared"), "{text}");
        assert!(text.contains(r#"Rename::Function { from: "org-orgs", to: "org-organizations" }"#), "{text}");
        assert!(text.contains("--accept-replacement aws_lambda_function.org_orgs"), "{text}");
    }

    #[test]
    fn a_declared_rename_or_an_accepted_replacement_passes() {
        let mut declared = renamed();
        declared.renamed = &[Rename::Function { from: "org-orgs", to: "org-organizations" }];
        assert_eq!(guard(&render(org::MODULE), &render(declared), &[]), Ok(()));
        // Accepting only the Lambda still leaves its role, policy, log group … as likely renames.
        let accepted = vec!["aws_lambda_function.org_orgs".to_owned()];
        let err = guard(&render(org::MODULE), &render(renamed()), &accepted).unwrap_err();
        assert!(!err.problems.iter().any(|p| p.starts_with("aws_lambda_function:")), "{err}");
        assert!(err.problems.iter().any(|p| p.starts_with("aws_iam_role:")), "{err}");
    }
}
