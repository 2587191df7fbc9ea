//! Golden tests (the committed `build/<env>/main.tf.json` is what synth produces; `UPDATE_EXPECT=1` rewrites it)
//! and the structural facts a reviewer checks: routes, functions, roles, alarms, wiring, names and tags.

use expect_test::expect_file;
use serde_json::Value;

use crate::{synth, Env, Target};

fn doc(env: Env) -> Value {
    serde_json::from_str(&synth(env, &Target::Aws).unwrap().text).unwrap()
}

fn resources<'a>(doc: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    doc["resource"][ty].as_object().map(|m| m.iter().collect()).unwrap_or_default()
}

#[test]
fn golden_dev() {
    expect_file!["../../build/dev/main.tf.json"].assert_eq(&synth(Env::Dev, &Target::Aws).unwrap().text);
}

#[test]
fn golden_tst() {
    expect_file!["../../build/tst/main.tf.json"].assert_eq(&synth(Env::Tst, &Target::Aws).unwrap().text);
}

#[test]
fn golden_stg() {
    expect_file!["../../build/stg/main.tf.json"].assert_eq(&synth(Env::Stg, &Target::Aws).unwrap().text);
}

#[test]
fn golden_prd() {
    expect_file!["../../build/prd/main.tf.json"].assert_eq(&synth(Env::Prd, &Target::Aws).unwrap().text);
}

#[test]
fn synth_is_byte_identical() {
    for env in Env::ALL {
        assert_eq!(synth(env, &Target::Aws).unwrap().text, synth(env, &Target::Aws).unwrap().text);
    }
}

#[test]
fn counts_a_reviewer_can_check() {
    for env in Env::ALL {
        let d = doc(env);
        assert_eq!(resources(&d, "aws_apigatewayv2_route").len(), 12, "{env}: routes");
        assert_eq!(resources(&d, "aws_lambda_function").len(), 5, "{env}: functions");
        assert_eq!(resources(&d, "aws_iam_role").len(), 5, "{env}: roles");
        assert_eq!(resources(&d, "aws_cloudwatch_metric_alarm").len(), 15, "{env}: alarms");
        assert_eq!(resources(&d, "aws_apigatewayv2_integration").len(), 4, "{env}: integrations");
        assert_eq!(resources(&d, "aws_cloudwatch_query_definition").len(), 3, "{env}: saved queries");
        for (name, _) in resources(&d, "aws_lambda_function") {
            let alarms = resources(&d, "aws_cloudwatch_metric_alarm")
                .into_iter()
                .filter(|(a, _)| a.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with('_')))
                .count();
            assert_eq!(alarms, 3, "{env}: alarms of {name}");
        }
    }
}

#[test]
fn every_registry_route_is_one_custom_authorized_route_to_its_function() {
    let d = doc(Env::Dev);
    let routes = resources(&d, "aws_apigatewayv2_route");
    for route in route_registry::all_routes() {
        let matching: Vec<_> = routes.iter().filter(|(_, r)| r["route_key"] == route.key()).collect();
        assert_eq!(matching.len(), 1, "{}", route.key());
        let r = matching[0].1;
        assert_eq!(r["authorization_type"], "CUSTOM");
        assert_eq!(r["authorizer_id"], "${aws_apigatewayv2_authorizer.okta.id}");
        let integration = route.function.binary.replace('-', "_");
        assert_eq!(r["target"], format!("integrations/${{aws_apigatewayv2_integration.{integration}.id}}"));
    }
}

#[test]
fn functions_follow_the_seed() {
    let d = doc(Env::Dev);
    for (name, f) in resources(&d, "aws_lambda_function") {
        assert_eq!(f["runtime"], "provided.al2023", "{name}");
        assert_eq!(f["architectures"], serde_json::json!(["arm64"]), "{name}");
        let fname = f["function_name"].as_str().unwrap();
        assert_eq!(d["resource"]["aws_cloudwatch_log_group"][name]["name"], format!("/aws/lambda/{fname}"));
        let vars = f["environment"]["variables"].as_object().unwrap();
        for key in ["REGION", "ENVIRONMENT", "LOG_LEVEL"] {
            assert!(vars.contains_key(key), "{name} lacks {key}");
        }
        if fname.contains("-org-module-") {
            assert_eq!(f["memory_size"], crate::modules::ORG_FUNCTION_MEMORY_MB);
            assert_eq!(f["timeout"], 30);
            for key in ["SUPABASE_URL", "SUPABASE_SECRET_ARN", "OKTA_DOMAIN"] {
                assert!(vars.contains_key(key), "{name} lacks {key}");
            }
            assert_eq!(f["tags"]["Module"], "org-module");
        }
        // Secrets travel as ARNs (references), never as values.
        for (k, v) in vars {
            if k.ends_with("_SECRET_ARN") {
                assert!(v.as_str().unwrap().starts_with("${aws_secretsmanager_secret."), "{name}.{k} = {v}");
            }
        }
    }
    assert_eq!(d["resource"]["aws_lambda_function"]["org_profiles"]["function_name"], "dev-org-module-profiles");
    // Only identities-management reads the Okta token.
    let with_okta: Vec<_> = resources(&d, "aws_lambda_function")
        .into_iter()
        .filter(|(_, f)| f["environment"]["variables"].get("OKTA_API_TOKEN_SECRET_ARN").is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(with_okta, ["org_identities_management"]);
}

#[test]
fn duration_alarm_is_derived_from_the_timeout() {
    let d = doc(Env::Dev);
    assert_eq!(d["resource"]["aws_cloudwatch_metric_alarm"]["org_profiles_duration"]["threshold"], 25000.0);
    let rate = &d["resource"]["aws_cloudwatch_metric_alarm"]["org_profiles_error_rate"];
    assert_eq!(rate["threshold"], 5.0);
    assert_eq!(rate["metric_query"].as_array().unwrap().len(), 3);
}

#[test]
fn cors_follows_the_env_table() {
    let prd = doc(Env::Prd);
    let cors = &prd["resource"]["aws_apigatewayv2_api"]["main"]["cors_configuration"];
    assert_eq!(cors["allow_origins"], serde_json::json!(["https://career.example.com"]));
    assert_eq!(cors["max_age"], 3600);
    let dev = doc(Env::Dev);
    let origins = &dev["resource"]["aws_apigatewayv2_api"]["main"]["cors_configuration"]["allow_origins"];
    assert_eq!(origins, &serde_json::json!(["https://career.example.com", "http://localhost:3000"]));
}

#[test]
fn output_is_relative_and_clock_free() {
    for env in Env::ALL {
        let text = synth(env, &Target::Aws).unwrap().text;
        assert!(
            !text.contains("/work/") && !text.contains("/home/") && !text.contains("/root/"),
            "{env}: absolute path"
        );
        assert!(text.ends_with("}\n"));
    }
}

#[test]
fn emulator_target_has_endpoints_and_local_state() {
    let local = synth(Env::Dev, &Target::Emulator { endpoint: "http://127.0.0.1:5000".into() }).unwrap();
    let d: Value = serde_json::from_str(&local.text).unwrap();
    assert!(d["terraform"]["backend"]["local"].is_object());
    assert_eq!(d["provider"]["aws"]["endpoints"][0]["lambda"], "http://127.0.0.1:5000");
    let real = doc(Env::Dev);
    assert_eq!(real["terraform"]["backend"]["s3"]["use_lockfile"], true);
    assert!(real["provider"]["aws"].get("endpoints").is_none());
}

#[test]
fn the_development_issuer_never_reaches_stg_or_prd() {
    use crate::{dev_issuer, synth_with_issuer, Issuer, StackError};
    for env in [Env::Stg, Env::Prd] {
        let err = synth_with_issuer(env, &Target::Aws, Issuer::Development).unwrap_err();
        assert!(matches!(err, StackError::DevIssuerRefused(e) if e == env));
        assert!(err.to_string().contains("without --dev-issuer"), "{err}");
    }
    for env in [Env::Dev, Env::Tst] {
        let text = synth_with_issuer(env, &Target::Aws, Issuer::Development).unwrap().text;
        assert!(text.contains(dev_issuer::ISSUER));
    }
    // The Okta synth of every environment never mentions it.
    for env in Env::ALL {
        assert!(!synth(env, &Target::Aws).unwrap().text.contains(dev_issuer::ISSUER), "{env}");
    }
}
