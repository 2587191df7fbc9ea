//! Golden tests (the committed `build/<env>/main.tf.json` is what synth produces; `UPDATE_EXPECT=1` rewrites it)
//! and the structural facts a reviewer checks, with every expected count derived from the catalog: routes,
//! functions, roles, alarms, wiring, declared uses, the dashboard, names, tags and what must never reach stg/prd.

use std::collections::BTreeSet;

use expect_test::expect_file;
use route_registry::{telemetry, Function, Module, Trigger, Use};
use serde_json::Value;

use crate::dashboard::metrics_of;
use crate::names;
use crate::{synth, synth_catalog, synth_with, Env, Issuer, Options, StackError, Target};

/// The committed rendering of an environment: stg and prd as examples until their settings are real.
fn golden(env: Env) -> String {
    synth_with(env, &Target::Aws, &Options { example: true, ..Options::default() }).unwrap().text
}

fn doc(env: Env) -> Value {
    serde_json::from_str(&golden(env)).unwrap()
}

fn resources<'a>(doc: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    doc["resource"][ty].as_object().map(|m| m.iter().collect()).unwrap_or_default()
}

fn module_functions(modules: &[Module]) -> usize {
    modules.iter().map(|m| m.functions.len()).sum()
}

fn functions_where(modules: &[Module], pick: impl Fn(&Function) -> bool) -> usize {
    modules.iter().flat_map(|m| m.functions.iter()).filter(|f| pick(f)).count()
}

#[test]
fn golden_dev() {
    expect_file!["../../build/dev/main.tf.json"].assert_eq(&golden(Env::Dev));
}

#[test]
fn golden_tst() {
    expect_file!["../../build/tst/main.tf.json"].assert_eq(&golden(Env::Tst));
}

#[test]
fn golden_stg() {
    expect_file!["../../build/stg/main.tf.json"].assert_eq(&golden(Env::Stg));
}

#[test]
fn golden_prd() {
    expect_file!["../../build/prd/main.tf.json"].assert_eq(&golden(Env::Prd));
}

#[test]
fn synth_is_byte_identical() {
    for env in Env::ALL {
        assert_eq!(golden(env), golden(env));
    }
}

#[test]
fn counts_follow_the_catalog() {
    let modules = route_registry::MODULES;
    let functions = module_functions(modules);
    let http = functions_where(modules, |f| f.trigger == Trigger::Http);
    let queued = functions_where(modules, |f| matches!(f.trigger, Trigger::Queue(_)));
    let scheduled = functions_where(modules, |f| matches!(f.trigger, Trigger::Schedule(_)));
    let objects = functions_where(modules, |f| matches!(f.trigger, Trigger::ObjectsCreated { .. }));
    let services = modules.iter().filter(|m| m.has_service_identity()).count();
    assert!(queued > 0 && scheduled > 0 && services > 0, "the catalog has each kind this test counts");
    for env in Env::ALL {
        let d = doc(env);
        assert_eq!(resources(&d, "aws_apigatewayv2_route").len(), route_registry::all_routes().count(), "{env}");
        assert_eq!(resources(&d, "aws_lambda_function").len(), functions + 1, "{env}: functions and the authorizer");
        assert_eq!(
            resources(&d, "aws_iam_role").len(),
            2 * (functions + 1) + scheduled,
            "{env}: one role per function and one its deployment group releases it with, one per schedule"
        );
        assert_eq!(resources(&d, "aws_lambda_alias").len(), functions + 1, "{env}: an alias per function");
        assert_eq!(resources(&d, "aws_codedeploy_app").len(), 1, "{env}");
        assert_eq!(
            resources(&d, "aws_codedeploy_deployment_group").len(),
            functions + 1,
            "{env}: a group per function"
        );
        assert_eq!(resources(&d, "aws_apigatewayv2_integration").len(), http, "{env}");
        assert_eq!(resources(&d, "aws_sqs_queue").len(), queued * 2 + scheduled + objects, "{env}: queues and DLQs");
        assert_eq!(resources(&d, "aws_lambda_event_source_mapping").len(), queued, "{env}");
        assert_eq!(resources(&d, "aws_scheduler_schedule").len(), scheduled, "{env}");
        assert_eq!(resources(&d, "aws_scheduler_schedule_group").len(), usize::from(scheduled > 0), "{env}");
        assert_eq!(resources(&d, "aws_s3_bucket_notification").len(), usize::from(objects > 0), "{env}");
        assert_eq!(resources(&d, "aws_kms_key").len(), 1 + services, "{env}: the platform's and each service's");
        assert_eq!(
            resources(&d, "aws_cloudwatch_query_definition").len(),
            modules.len() * crate::module::QUERIES.len(),
            "{env}"
        );
        // Per module function: crashes, duration, throttles; HTTP functions the 5xx rate of their answers; queue-fed
        // ones dead letters, the oldest message's age and anomalies; scheduled and objects-created ones dead letters
        // and anomalies. The authorizer has no request lines; the API has its 5xx rate and p99 latency; the schedules
        // their failures.
        let events = queued + scheduled + objects;
        let alarms = functions * 3 + http + queued + events * 2 + 3 + 2 + usize::from(scheduled > 0);
        assert_eq!(resources(&d, "aws_cloudwatch_metric_alarm").len(), alarms, "{env}");
    }
}

#[test]
fn every_catalog_route_is_one_custom_authorized_route_to_its_function() {
    let d = doc(Env::Dev);
    let routes = resources(&d, "aws_apigatewayv2_route");
    for route in route_registry::all_routes() {
        let matching: Vec<_> = routes.iter().filter(|(_, r)| r["route_key"] == route.key()).collect();
        assert_eq!(matching.len(), 1, "{}", route.key());
        let r = matching[0].1;
        assert_eq!(r["authorization_type"], "CUSTOM");
        assert_eq!(r["authorizer_id"], "${aws_apigatewayv2_authorizer.okta.id}");
        let integration = names::local(&route.function);
        assert_eq!(r["target"], format!("integrations/${{aws_apigatewayv2_integration.{integration}.id}}"));
    }
}

#[test]
fn functions_follow_their_catalog_entries() {
    let d = doc(Env::Dev);
    let settings = Env::Dev.settings();
    let share = settings
        .reserved_concurrency
        .module_function_share(crate::triggers::module_functions(route_registry::modules::ALL))
        .unwrap();
    for f in route_registry::all_functions() {
        let local = names::local(&f);
        let lambda = &d["resource"]["aws_lambda_function"][&local];
        assert_eq!(lambda["runtime"], "provided.al2023", "{local}");
        assert_eq!(lambda["architectures"], serde_json::json!(["arm64"]), "{local}");
        assert_eq!(lambda["memory_size"], f.memory_mb, "{local}");
        assert_eq!(lambda["timeout"], f.timeout_s, "{local}");
        assert_eq!(lambda["tracing_config"]["mode"], "Active", "{local}");
        assert_eq!(lambda["code_signing_config_arn"], "${aws_lambda_code_signing_config.lambda.arn}");
        let name = lambda["function_name"].as_str().unwrap();
        assert_eq!(name, format!("dev-{}-{}", f.module, f.name));
        assert_eq!(d["resource"]["aws_cloudwatch_log_group"][&local]["name"], format!("/aws/lambda/{name}"));
        let vars = lambda["environment"]["variables"].as_object().unwrap();
        let has = |k: &str| vars.contains_key(k);
        assert!(has("REGION") && has("ENVIRONMENT") && has("LOG_LEVEL"), "{local}");
        assert_eq!(has("SUPABASE_URL"), f.uses.contains(&Use::Database), "{local}");
        assert_eq!(has("SUPABASE_ANON_KEY"), f.uses.contains(&Use::Database), "{local}");
        assert!(!has("SUPABASE_SECRET_ARN"), "{local}: the Supabase settings are public, not a secret");
        if f.uses.contains(&Use::Database) {
            assert_eq!(vars["SUPABASE_URL"], settings.supabase_url.as_str(), "{local}");
            assert_eq!(vars["SUPABASE_ANON_KEY"], settings.supabase_publishable_key.as_str(), "{local}");
        }
        assert_eq!(has("OKTA_API_TOKEN_SECRET_ARN"), f.uses.contains(&Use::Okta), "{local}");
        assert_eq!(has("OKTA_DOMAIN"), f.uses.contains(&Use::Okta), "{local}");
        if f != route_registry::AUTHORIZER {
            assert_eq!(vars["ADMIN_GROUP"], settings.admin_group);
            let scheduled = matches!(f.trigger, route_registry::Trigger::Schedule(_));
            let reserved = if scheduled { crate::env::SCHEDULED } else { share };
            assert_eq!(lambda["reserved_concurrent_executions"], reserved, "{local}");
        }
        // Secrets travel as ARNs (references), never as values.
        for (k, v) in vars {
            if k.ends_with("_SECRET_ARN") {
                assert!(v.as_str().unwrap().starts_with("${aws_secretsmanager_secret."), "{local}.{k} = {v}");
            }
        }
        // The role's policy is exactly the function's grants, derived from the catalog.
        let policy = d["resource"]["aws_iam_role_policy"][&local]["policy"].as_str().unwrap();
        let expected = infra_dsl::policy::PolicyDocument::new(crate::grants::statements(
            &crate::grants::of(&f, &settings, &crate::triggers::of(&f.trigger).queues(&f)),
            &local,
        ))
        .to_expr()
        .unwrap()
        .render();
        assert_eq!(policy, expected, "{local}");
        assert_eq!(d["resource"]["aws_lambda_function"][&local].get("//"), None, "{local}: no comment channel");
    }
}

#[test]
fn alarms_watch_what_users_see_and_reach_someone() {
    let d = doc(Env::Dev);
    let alarms = &d["resource"]["aws_cloudwatch_metric_alarm"];
    let functions_named: Vec<String> = resources(&d, "aws_lambda_function")
        .iter()
        .map(|(_, f)| f["function_name"].as_str().unwrap().to_owned())
        .collect();
    let rate = &alarms["org_profiles_5xx_rate"];
    assert_eq!(rate["threshold"], 5.0);
    let queries = rate["metric_query"].as_array().unwrap();
    let names: Vec<&str> = queries.iter().filter_map(|q| q["metric"]["metric_name"].as_str()).collect();
    assert_eq!(names, [telemetry::SERVER_ERRORS, telemetry::REQUESTS]);
    assert_eq!(queries[0]["metric"]["namespace"], telemetry::namespace("dev"));
    let min = Env::Dev.settings().alarm_min_requests;
    assert!(queries[2]["expression"].as_str().unwrap().contains(&format!("requests >= {min}")));
    // The duration alarm fires at five sixths of the timeout.
    let timeout = route_registry::modules::org::PROFILES.timeout_s;
    assert_eq!(alarms["org_profiles_duration"]["threshold"], (f64::from(timeout) * 1000.0 * 5.0 / 6.0).round());
    for (name, alarm) in alarms.as_object().unwrap() {
        assert_eq!(alarm["alarm_actions"], serde_json::json!(["${aws_sns_topic.alarms.arn}"]), "{name}");
        assert_eq!(alarm["ok_actions"], alarm["alarm_actions"], "{name}: recoveries are reported too");
        // Say what happened to what, and where to look: the function's or the API's name, and a query, log group or
        // dashboard to open.
        let description = alarm["alarm_description"].as_str().unwrap();
        let alarm_name = alarm["alarm_name"].as_str().unwrap();
        let subject = match name.as_str() {
            n if n.starts_with("api_") => "API".to_owned(),
            "schedule_failures" => "schedule".to_owned(),
            _ => functions_named
                .iter()
                .filter(|f| alarm_name.starts_with(&format!("{f}-")))
                .max_by_key(|f| f.len())
                .cloned()
                .unwrap_or_else(|| panic!("{name}: {alarm_name} is named after no function")),
        };
        assert!(description.contains(&subject), "{name}: the description does not name {subject}: {description}");
        assert!(
            ["saved query", "Run \"", "/aws/", "dashboard"].iter().any(|w| description.contains(w)),
            "{name}: the description says nowhere to look: {description}"
        );
    }
    // Someone is told in stg and prd (dev and tst may have no recipients); prd refuses to have none.
    let prd_doc = doc(Env::Prd);
    let subs = resources(&prd_doc, "aws_sns_topic_subscription");
    assert_eq!(subs.len(), Env::Prd.settings().alarm_emails.len());
    assert!(subs.iter().all(|(_, s)| s["protocol"] == "email"));
    let mut prd = Env::Prd.settings();
    prd.alarm_emails.clear();
    let err = crate::synth_settings(prd, &Target::Aws, &Options { example: true, ..Options::default() }).unwrap_err();
    assert!(matches!(err, StackError::NoAlarmRecipients(Env::Prd)), "{err}");
}

/// Every metric a widget names is one the platform emits: the handlers' request-line metrics with their dimension
/// sets and real module/function values, AWS/Lambda metrics of functions in this stack, AWS/ApiGateway of this API.
#[test]
fn the_dashboard_names_only_metrics_that_exist() {
    for env in [Env::Dev, Env::Prd] {
        let d = doc(env);
        let body: Value =
            serde_json::from_str(d["resource"]["aws_cloudwatch_dashboard"]["main"]["dashboard_body"].as_str().unwrap())
                .unwrap();
        let functions: BTreeSet<String> = resources(&d, "aws_lambda_function")
            .iter()
            .map(|(_, f)| f["function_name"].as_str().unwrap().to_owned())
            .collect();
        let queues: BTreeSet<String> =
            resources(&d, "aws_sqs_queue").iter().map(|(_, q)| q["name"].as_str().unwrap().to_owned()).collect();
        let emitted: BTreeSet<&str> =
            telemetry::METRICS.iter().chain(telemetry::EVENT_METRICS.iter()).map(|(n, _)| *n).collect();
        let metrics = metrics_of(&body);
        // The API's requests, 4xx and 5xx, and three latency statistics; per HTTP function its request-line metrics
        // (4) and latency statistics (3); per queue-fed function its event counts (3), handling time and age (2), its
        // queue and dead-letter queue (2); per scheduled or objects-created function the same with its dead-letter
        // queue only (1); for every module function throttles and concurrency (2); for the authorizer, invocations
        // and errors (2), duration statistics (3), throttles and concurrency (2); the schedules' runs, failed and
        // dropped (3).
        let modules = route_registry::MODULES;
        let http = functions_where(modules, |f| f.trigger == Trigger::Http);
        let queued = functions_where(modules, |f| matches!(f.trigger, Trigger::Queue(_)));
        let asynchronous =
            functions_where(modules, |f| matches!(f.trigger, Trigger::Schedule(_) | Trigger::ObjectsCreated { .. }));
        let scheduled = functions_where(modules, |f| matches!(f.trigger, Trigger::Schedule(_)));
        assert_eq!(
            metrics.len(),
            6 + http * (4 + 3 + 2)
                + queued * (3 + 2 + 2 + 2)
                + asynchronous * (3 + 2 + 1 + 2)
                + (2 + 3 + 2)
                + if scheduled > 0 { 3 } else { 0 },
            "{env}"
        );
        for m in metrics {
            let dims: Vec<&str> = m.dimensions.iter().map(|(k, _)| k.as_str()).collect();
            match m.namespace.as_str() {
                ns if ns == telemetry::namespace(env.as_str()) => {
                    assert!(emitted.contains(m.name.as_str()), "{m:?}");
                    assert!(telemetry::DIMENSION_SETS.contains(&dims.as_slice()), "{m:?}");
                    let (module, function) = (&m.dimensions[0].1, &m.dimensions[1].1);
                    assert!(
                        route_registry::MODULES.iter().any(|md| md.name == module
                            && md.functions.iter().any(|f| telemetry::function_dimension(f) == function)),
                        "{m:?}"
                    );
                }
                "AWS/Lambda" => {
                    assert_eq!(dims, ["FunctionName"], "{m:?}");
                    assert!(functions.contains(&m.dimensions[0].1), "{m:?}");
                    assert!(["Invocations", "Errors", "Duration", "Throttles", "ConcurrentExecutions"]
                        .contains(&m.name.as_str()));
                }
                "AWS/ApiGateway" => {
                    assert_eq!(m.dimensions[0], ("ApiId".into(), "${aws_apigatewayv2_api.main.id}".into()), "{m:?}");
                    assert!(["Count", "4xx", "5xx", "Latency"].contains(&m.name.as_str()), "{m:?}");
                }
                "AWS/SQS" => {
                    assert_eq!(dims, ["QueueName"], "{m:?}");
                    assert!(queues.contains(&m.dimensions[0].1), "{m:?}: a queue of this stack");
                    assert_eq!(m.name, "ApproximateNumberOfMessagesVisible", "{m:?}");
                }
                "AWS/Scheduler" => {
                    assert_eq!(
                        m.dimensions,
                        [("ScheduleGroup".into(), "${aws_scheduler_schedule_group.platform.name}".into())],
                        "{m:?}"
                    );
                    assert!(
                        ["InvocationAttemptCount", "TargetErrorCount", "InvocationDroppedCount"]
                            .contains(&m.name.as_str()),
                        "{m:?}"
                    );
                }
                other => panic!("unexpected namespace {other}: {m:?}"),
            }
        }
    }
}

/// A module added to the catalog gets its functions, routes, alarms, queries and dashboard widgets with no other
/// edit, whatever starts its functions: the template module, which has one function of each kind, stands in for a
/// new one.
#[test]
fn a_new_module_needs_no_stack_code() {
    use route_registry::modules::template::{GIZMOS, GIZMO_INDEXER, GIZMO_SWEEP, GIZMO_UPLOADS};
    let modules = [route_registry::modules::org::MODULE, route_registry::modules::template::MODULE];
    let text = synth_catalog(Env::Dev.settings(), &Target::Aws, &Options::default(), &modules).unwrap().text;
    let d: Value = serde_json::from_str(&text).unwrap();
    let r = &d["resource"];
    // HTTP.
    let local = names::local(&GIZMOS);
    assert!(r["aws_lambda_function"][&local].is_object());
    assert!(r["aws_cloudwatch_metric_alarm"][format!("{local}_5xx_rate")].is_object());
    assert!(r["aws_apigatewayv2_route"]["get_gizmos_id"].is_object());
    assert!(text.contains(&format!("dev-{}-{}: requests and errors", GIZMOS.module, GIZMOS.name)));
    // A queue: its queue and dead-letter queue, the mapping, the producer's variable, the alarms.
    let worker = names::local(&GIZMO_INDEXER);
    assert!(r["aws_sqs_queue"][&worker].is_object() && r["aws_sqs_queue"][format!("{worker}_dlq")].is_object());
    assert_eq!(
        r["aws_lambda_event_source_mapping"][&worker]["function_response_types"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        r["aws_lambda_function"][&local]["environment"]["variables"][GIZMO_INDEXER.queue_url_variable()],
        format!("${{aws_sqs_queue.{worker}.url}}")
    );
    assert!(r["aws_cloudwatch_metric_alarm"][format!("{worker}_queue_age")].is_object());
    // A schedule, in its time zone, through its own role.
    let sweep = names::local(&GIZMO_SWEEP);
    assert_eq!(r["aws_scheduler_schedule"][&sweep]["schedule_expression_timezone"], "Europe/Berlin");
    assert!(r["aws_iam_role"][names::scheduler_role_local(&GIZMO_SWEEP)].is_object());
    // Objects created: one notification for the bucket, with the template's subscription beside any other.
    let subscriptions = r["aws_s3_bucket_notification"]["documents"]["lambda_function"].as_array().unwrap();
    assert!(subscriptions
        .iter()
        .any(|s| s["filter_prefix"] == "gizmos/" && s["events"] == serde_json::json!(["s3:ObjectCreated:*"])));
    assert!(r["aws_lambda_permission"][format!("{}_s3", names::local(&GIZMO_UPLOADS))].is_object());
    // The module's service identity.
    assert_eq!(r["aws_kms_key"]["template_module_service"]["customer_master_key_spec"], "ECC_NIST_P256");
    assert_eq!(resources(&d, "aws_lambda_function").len(), module_functions(&modules) + 1);
    // Least privilege holds for the new module too.
    let functions: Vec<Function> =
        modules.iter().flat_map(|m| m.functions.iter().copied()).chain([route_registry::AUTHORIZER]).collect();
    let findings = crate::iam_check::check_against(Env::Dev, &d, &functions);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn secrets_are_readable_only_by_their_declared_readers_and_encrypted() {
    let d = doc(Env::Dev);
    let policy: Value = serde_json::from_str(
        d["resource"]["aws_secretsmanager_secret_policy"]["okta_api_token"]["policy"].as_str().unwrap(),
    )
    .unwrap();
    let readers = &policy["Statement"][0]["Condition"]["StringNotLike"]["aws:PrincipalArn"];
    let okta_users: Vec<String> = route_registry::all_functions()
        .filter(|f| f.uses.contains(&Use::Okta))
        .map(|f| format!("${{aws_iam_role.{}.arn}}", names::local(&f)))
        .collect();
    assert_eq!(readers.as_array().unwrap().len(), okta_users.len() + 1, "declared readers and the break-glass role");
    for r in &okta_users {
        assert!(readers.as_array().unwrap().iter().any(|v| v == r), "{r}");
    }
    for (name, s) in resources(&d, "aws_secretsmanager_secret") {
        assert_eq!(s["kms_key_id"], "${aws_kms_key.platform.arn}", "{name}");
    }
    assert_eq!(d["resource"]["aws_kms_key"]["platform"]["enable_key_rotation"], true);
    assert_eq!(d["resource"]["aws_sns_topic"]["alarms"]["kms_master_key_id"], "${aws_kms_key.platform.arn}");
}

#[test]
fn prd_data_survives_a_mistaken_destroy() {
    let d = doc(Env::Prd);
    for (ty, name) in
        [("aws_s3_bucket", "documents"), ("aws_secretsmanager_secret", "okta_api_token"), ("aws_kms_key", "platform")]
    {
        assert_eq!(d["resource"][ty][name]["lifecycle"]["prevent_destroy"], true, "{ty}.{name}");
    }
    assert!(doc(Env::Dev)["resource"]["aws_s3_bucket"]["documents"].get("lifecycle").is_none());
}

#[test]
fn nothing_built_for_stg_or_prd_can_be_applied_with_example_values() {
    for env in [Env::Stg, Env::Prd] {
        let err = synth(env, &Target::Aws).unwrap_err();
        assert!(matches!(&err, StackError::Placeholders { env: e, .. } if *e == env), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("okta_issuer")
                && message.contains("stacks/settings/src/env.rs")
                && message.contains("--example")
        );
        let d = doc(env);
        let guard = &d["resource"]["aws_apigatewayv2_api"]["main"]["lifecycle"]["precondition"][0];
        // The condition is false as rendered: it holds only once no setting is left at its example value.
        assert_eq!(guard["condition"], "${length(local.example_placeholders) == 0}");
        let left = d["locals"]["example_placeholders"].as_array().unwrap();
        assert!(left.contains(&serde_json::json!("okta_issuer")), "{left:?}");
        assert!(guard["error_message"].as_str().unwrap().contains("supabase_url"));
        assert!(golden(env).starts_with("{\n  \"//\": \"EXAMPLE rendering"));
    }
    // dev and tst may carry examples (the rehearsal runs dev); no guard there.
    assert!(doc(Env::Dev)["resource"]["aws_apigatewayv2_api"]["main"].get("lifecycle").is_none());
}

#[test]
fn each_environment_trusts_its_own_audience_and_account() {
    for env in Env::ALL {
        let d = doc(env);
        let vars = &d["resource"]["aws_lambda_function"]["platform_authorizer"]["environment"]["variables"];
        assert_eq!(vars["OKTA_AUDIENCE"], format!("api://career-{env}"));
        assert_eq!(d["provider"]["aws"]["allowed_account_ids"], serde_json::json!([env.settings().account_id]));
        assert_eq!(d["terraform"]["required_version"], ">= 1.11");
    }
}

#[test]
fn cors_follows_the_env_table() {
    let prd = doc(Env::Prd);
    let cors = &prd["resource"]["aws_apigatewayv2_api"]["main"]["cors_configuration"];
    assert_eq!(cors["allow_origins"], serde_json::json!(["https://career.example.com"]));
    assert_eq!(cors["max_age"], 3600);
}

/// Nothing of the machine that ran synth reaches the output: no absolute path (packages are found relative to the
/// root module) and no timestamp. That synth reads no clock at all is the tidy test `the_pure_crates_do_no_io`.
#[test]
fn output_holds_no_absolute_path_and_no_time() {
    let timestamp = |s: &str| {
        s.as_bytes().windows(19).any(|w| {
            let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
            digits(0..4)
                && w[4] == b'-'
                && digits(5..7)
                && w[7] == b'-'
                && digits(8..10)
                && w[10] == b'T'
                && digits(11..13)
        })
    };
    for env in Env::ALL {
        let text = golden(env);
        assert!(!text.contains("/work/") && !text.contains("/home/") && !text.contains("/root/"), "{env}");
        assert!(!timestamp(&text), "{env}: a timestamp in the output");
        assert!(text.ends_with("}\n"));
    }
}

#[test]
fn emulator_targets_have_endpoints_and_their_state() {
    use crate::EmulatorState;
    let endpoint = "http://127.0.0.1:5000".to_owned();
    let local = synth(Env::Dev, &Target::Emulator { endpoint: endpoint.clone(), state: EmulatorState::Local }).unwrap();
    let d: Value = serde_json::from_str(&local.text).unwrap();
    assert!(d["terraform"]["backend"]["local"].is_object());
    assert_eq!(d["provider"]["aws"]["endpoints"][0]["lambda"], endpoint);
    // Exactly what EMULATOR_OMITS lists is left out, and only for the emulator.
    for ty in [
        "aws_cloudwatch_query_definition",
        "aws_lambda_code_signing_config",
        "aws_signer_signing_profile",
        "aws_s3_bucket_logging",
        "aws_codedeploy_app",
        "aws_codedeploy_deployment_group",
    ] {
        assert!(d["resource"].get(ty).is_none(), "{ty} is omitted for the emulator");
        assert!(doc(Env::Dev)["resource"].get(ty).is_some(), "{ty} is in the real stack");
        assert!(
            crate::provider::EMULATOR_OMITS.iter().any(|(t, _)| t.contains(ty)),
            "{ty} is reported as not rehearsed"
        );
    }
    assert!(d["resource"]["aws_lambda_function"]["org_orgs"].get("code_signing_config_arn").is_none());
    // Every service the emulator stack calls has its endpoint (a missing one reaches for AWS itself).
    let endpoints = d["provider"]["aws"]["endpoints"][0].as_object().unwrap();
    for ty in d["resource"].as_object().unwrap().keys() {
        let service = match ty.trim_start_matches("aws_") {
            t if t.starts_with("cloudwatch_log") => "logs",
            t if t.starts_with("cloudwatch") => "cloudwatch",
            t if t.starts_with("lambda") => "lambda",
            t if t.starts_with("s3") => "s3",
            t => t.split('_').next().unwrap(),
        };
        assert!(endpoints.contains_key(service), "{ty}: no emulator endpoint for {service}");
    }
    let s3 = synth(Env::Dev, &Target::Emulator { endpoint: endpoint.clone(), state: EmulatorState::S3 }).unwrap();
    let d: Value = serde_json::from_str(&s3.text).unwrap();
    assert_eq!(d["terraform"]["backend"]["s3"]["endpoints"]["s3"], endpoint);
    assert_eq!(d["terraform"]["backend"]["s3"]["use_lockfile"], true);
    let real = doc(Env::Dev);
    assert!(real["terraform"]["backend"]["s3"].get("endpoints").is_none());
    assert!(real["provider"]["aws"].get("endpoints").is_none());
}

#[test]
fn the_development_issuer_never_reaches_stg_or_prd() {
    let dev_issuer = Issuer::Development {
        issuer: "https://dev-issuer.career.invalid".into(),
        jwks_url: "http://127.0.0.1:8787/.well-known/jwks.json".into(),
    };
    for env in [Env::Stg, Env::Prd] {
        let options = Options { issuer: dev_issuer.clone(), example: true };
        let err = synth_with(env, &Target::Aws, &options).unwrap_err();
        assert!(matches!(err, StackError::DevIssuerRefused(e) if e == env));
        assert!(err.to_string().contains("without --dev-issuer"), "{err}");
    }
    for env in [Env::Dev, Env::Tst] {
        let options = Options { issuer: dev_issuer.clone(), example: false };
        assert!(synth_with(env, &Target::Aws, &options).unwrap().text.contains("dev-issuer.career.invalid"));
    }
    for env in Env::ALL {
        assert!(!golden(env).contains("dev-issuer"), "{env}");
    }
}

/// A function or route renamed in the catalog keeps its resources: synth emits `moved` blocks for every resource
/// the function produced and for the route.
#[test]
fn renames_in_the_catalog_become_moves() {
    use route_registry::Rename;
    let mut module = route_registry::modules::org::MODULE;
    module.renamed = &[
        Rename::Function { from: "org-organisations", to: "org-orgs" },
        Rename::Route { from: "GET /profiles/self", to: "GET /profiles/me" },
    ];
    let text = synth_catalog(Env::Dev.settings(), &Target::Aws, &Options::default(), &[module]).unwrap().text;
    let d: Value = serde_json::from_str(&text).unwrap();
    let moved: Vec<(String, String)> = d["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["from"].as_str().unwrap().to_owned(), m["to"].as_str().unwrap().to_owned()))
        .collect();
    for ty in [
        "aws_lambda_function",
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_cloudwatch_log_group",
        "aws_apigatewayv2_integration",
    ] {
        assert!(moved.contains(&(format!("{ty}.org_organisations"), format!("{ty}.org_orgs"))), "{ty}: {moved:?}");
    }
    assert!(moved.contains(&(
        "aws_lambda_permission.org_organisations_api".into(),
        "aws_lambda_permission.org_orgs_api".into()
    )));
    assert!(moved.contains(&(
        "aws_cloudwatch_metric_alarm.org_organisations_5xx_rate".into(),
        "aws_cloudwatch_metric_alarm.org_orgs_5xx_rate".into()
    )));
    assert!(moved.contains(&(
        "aws_apigatewayv2_route.get_profiles_self".into(),
        "aws_apigatewayv2_route.get_profiles_me".into()
    )));
    // Every resource of the function moves, and the route does: count what the function owns in the stack as it is
    // rendered without the rename (its resources share its local name as a prefix).
    let plain: Value = serde_json::from_str(
        &synth_catalog(Env::Dev.settings(), &Target::Aws, &Options::default(), &[route_registry::modules::org::MODULE])
            .unwrap()
            .text,
    )
    .unwrap();
    let owned = plain["resource"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|by_name| by_name.as_object().unwrap().keys())
        .filter(|n| *n == "org_orgs" || n.starts_with("org_orgs_"))
        .count();
    assert_eq!(moved.len(), owned + 1, "the function's {owned} resources and the route");
}

/// org-module with one function replaced (a variation of the catalog a test synthesizes).
fn org_with(change: impl Fn(Function) -> Function) -> Module {
    let org = route_registry::modules::org::MODULE;
    let functions: Vec<Function> = org.functions.iter().map(|f| change(*f)).collect();
    let functions: &'static [Function] = Box::leak(functions.into_boxed_slice());
    let routes: Vec<route_registry::Route> = org
        .routes
        .iter()
        .map(|r| {
            let at = org.functions.iter().position(|f| *f == r.function).unwrap();
            route_registry::Route { function: functions[at], ..*r }
        })
        .collect();
    Module { functions, routes: Box::leak(routes.into_boxed_slice()), ..org }
}

fn refusal(module: Module) -> String {
    let err = synth_catalog(Env::Dev.settings(), &Target::Aws, &Options::default(), &[module]).unwrap_err();
    assert!(matches!(err, StackError::Catalog { .. }), "{err}");
    let message = err.to_string();
    assert!(message.starts_with("lambdas/route-registry/src/modules/org.rs: "), "names the file to fix: {message}");
    message
}

#[test]
fn synth_refuses_triggers_that_cannot_work_naming_the_catalog_file() {
    use route_registry::modules::org::{INVITATION_IMPORT, OKTA_RECONCILE};
    use route_registry::{Access, QueueTrigger, ScheduleTrigger};
    let Trigger::Queue(queue) = INVITATION_IMPORT.trigger else { panic!("a queue-fed function") };
    let Trigger::Schedule(schedule) = OKTA_RECONCILE.trigger else { panic!("a scheduled function") };

    let short = QueueTrigger { visibility_timeout_s: INVITATION_IMPORT.timeout_s * 6 - 1, ..queue };
    let message =
        refusal(org_with(
            |f| if f == INVITATION_IMPORT { Function { trigger: Trigger::Queue(short), ..f } } else { f },
        ));
    assert!(
        message.contains("org-invitation-import") && message.contains("six times") && message.contains("360 s"),
        "{message}"
    );

    let wide = QueueTrigger { max_concurrency: 11, ..queue };
    let message =
        refusal(org_with(|f| if f == INVITATION_IMPORT { Function { trigger: Trigger::Queue(wide), ..f } } else { f }));
    assert!(message.contains("reserved concurrency") && message.contains("10"), "{message}");

    let no_zone = ScheduleTrigger { time_zone: "", ..schedule };
    let message =
        refusal(org_with(
            |f| if f == OKTA_RECONCILE { Function { trigger: Trigger::Schedule(no_zone), ..f } } else { f },
        ));
    assert!(message.contains("org-okta-reconcile") && message.contains("no time zone"), "{message}");
    let bad_zone = ScheduleTrigger { time_zone: "CET+1", ..schedule };
    assert!(refusal(org_with(|f| if f == OKTA_RECONCILE {
        Function { trigger: Trigger::Schedule(bad_zone), ..f }
    } else {
        f
    }))
    .contains("not an IANA time zone"));

    // A function started by objects under `imports/` that may write under `imports/done/`.
    let uses: &'static [Use] = &[Use::Database, Use::Documents { prefix: "imports/done", access: Access::ReadWrite }];
    let recursive = |f: Function| {
        if f == INVITATION_IMPORT {
            Function { trigger: Trigger::ObjectsCreated { prefix: "imports" }, uses, ..f }
        } else {
            f
        }
    };
    let message = refusal(org_with(recursive));
    assert!(message.contains("imports/") && message.contains("each write would start it again"), "{message}");

    // Two subscriptions whose prefixes overlap.
    let overlapping = |f: Function| match f.name {
        "invitation-import" => Function { trigger: Trigger::ObjectsCreated { prefix: "imports" }, ..f },
        "okta-reconcile" => Function { trigger: Trigger::ObjectsCreated { prefix: "imports/csv" }, ..f },
        _ => f,
    };
    assert!(refusal(org_with(overlapping)).contains("overlaps"));
}

/// The catalog's functions, counted by their trigger kinds, fit every environment's account with its unreserved
/// hundred left (the share's arithmetic is the settings crate's test).
#[test]
fn the_catalog_fits_every_environments_concurrency() {
    use crate::env::{SCHEDULED, UNRESERVED};
    let functions = crate::triggers::module_functions(route_registry::modules::ALL);
    assert!(functions.scheduled >= 2, "the catalog has scheduled functions: {functions:?}");
    for env in Env::ALL {
        let c = env.settings().reserved_concurrency;
        let share = c.module_function_share(functions).unwrap();
        let reserved = share * functions.serving + functions.scheduled * SCHEDULED + c.authorizer;
        assert!(reserved <= c.account - UNRESERVED, "{env}: {share} × {functions:?}");
    }
}

/// Every function is published and invoked through its alias, which Terraform never moves after making it (the
/// deployment does), by everything that starts it (the API's integrations and authorizer, the invoke
/// permissions, the queues' mappings, the schedules, the bucket's notification, the asynchronous retries), and each
/// has a deployment group that watches its own alarms and then the API's (at most CodeDeploy's 10, none left out)
/// and rolls back on failure and on alarm: all at once in dev, a canary in prd.
#[test]
fn every_invoker_targets_the_alias_and_every_group_rolls_back_on_its_alarms() {
    for env in [Env::Dev, Env::Prd] {
        let d = doc(env);
        let aliases = resources(&d, "aws_lambda_alias");
        for (local, lambda) in resources(&d, "aws_lambda_function") {
            assert_eq!(lambda["publish"], true, "{env} {local}");
            let alias = &d["resource"]["aws_lambda_alias"][local];
            assert_eq!(alias["name"], names::ALIAS, "{env} {local}");
            assert_eq!(alias["function_version"], format!("${{aws_lambda_function.{local}.version}}"), "{env}");
            // Terraform makes the alias on the first version and never moves it after: the deployment does.
            assert_eq!(
                alias["lifecycle"]["ignore_changes"],
                serde_json::json!(["function_version", "routing_config"]),
                "{env} {local}: a plan after a canary must not fight CodeDeploy"
            );
        }
        let alias_of = |attr: &str, value: &Value| -> String {
            let text = value.as_str().unwrap_or_default();
            let local = text.strip_prefix("${aws_lambda_alias.").and_then(|t| t.strip_suffix(&format!(".{attr}}}")));
            local.unwrap_or_else(|| panic!("{env}: {text} is not an alias's {attr}")).to_owned()
        };
        for (_, i) in resources(&d, "aws_apigatewayv2_integration") {
            alias_of("invoke_arn", &i["integration_uri"]);
        }
        alias_of("invoke_arn", &d["resource"]["aws_apigatewayv2_authorizer"]["okta"]["authorizer_uri"]);
        for (_, p) in resources(&d, "aws_lambda_permission") {
            alias_of("name", &p["qualifier"]);
        }
        for (_, m) in resources(&d, "aws_lambda_event_source_mapping") {
            alias_of("arn", &m["function_name"]);
        }
        for (_, s) in resources(&d, "aws_scheduler_schedule") {
            alias_of("arn", &s["target"]["arn"]);
        }
        for (_, c) in resources(&d, "aws_lambda_function_event_invoke_config") {
            alias_of("name", &c["qualifier"]);
        }
        for (_, n) in resources(&d, "aws_s3_bucket_notification") {
            for s in n["lambda_function"].as_array().unwrap() {
                alias_of("arn", &s["lambda_function_arn"]);
            }
        }
        let groups = resources(&d, "aws_codedeploy_deployment_group");
        assert_eq!(groups.len(), aliases.len(), "{env}");
        let config = env.settings().deployment_config;
        assert_eq!(config.contains("AllAtOnce"), env == Env::Dev, "{env}: {config}");
        assert_eq!(config.contains("Canary"), env == Env::Prd, "{env}: {config}");
        for (local, g) in groups {
            assert_eq!(g["deployment_config_name"], config, "{env} {local}");
            assert_eq!(
                g["auto_rollback_configuration"]["events"],
                serde_json::json!(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"])
            );
            let watched: Vec<&str> =
                g["alarm_configuration"]["alarms"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
            let own: Vec<String> = resources(&d, "aws_cloudwatch_metric_alarm")
                .iter()
                .filter(|(a, _)| a.strip_prefix(local.as_str()).is_some_and(|rest| rest.starts_with('_')))
                .map(|(a, _)| format!("${{aws_cloudwatch_metric_alarm.{a}.alarm_name}}"))
                .collect();
            assert!(!own.is_empty(), "{env} {local}");
            let api: Vec<String> = crate::grants::API_ALARMS
                .iter()
                .map(|a| format!("${{aws_cloudwatch_metric_alarm.{a}.alarm_name}}"))
                .collect();
            let expected: Vec<&str> = own.iter().chain(api.iter()).map(String::as_str).collect();
            assert!(expected.len() <= crate::delivery::MAX_ALARMS, "{env} {local}: {} alarms", expected.len());
            let (mut got, mut want) = (watched.clone(), expected.clone());
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{env} {local}");
        }
    }
}

/// Where signing is enforced (prd), every function deploys its package's signed object, signed in the apply by the
/// stack's profile from a versioned upload; elsewhere the local zip, and nothing to sign.
#[test]
fn where_signing_is_enforced_every_function_runs_a_package_the_profile_signed() {
    for env in Env::ALL {
        let d = doc(env);
        let enforced = env.settings().enforce_code_signing;
        assert_eq!(enforced, env == Env::Prd, "prd enforces signing, the others log");
        let jobs = resources(&d, "aws_signer_signing_job");
        assert_eq!(jobs.is_empty(), !enforced, "{env}");
        for (local, f) in resources(&d, "aws_lambda_function") {
            assert!(f["code_signing_config_arn"].is_string(), "{env} {local}");
            if !enforced {
                assert!(f["filename"].is_string() && f.get("s3_key").is_none(), "{env} {local}");
                continue;
            }
            let key = f["s3_key"].as_str().unwrap_or_default();
            let job = key
                .strip_prefix("${aws_signer_signing_job.")
                .and_then(|k| k.strip_suffix(".signed_object[0].s3[0].key}"))
                .unwrap_or_else(|| panic!("{env} {local}: {key} is not a signed object"));
            assert!(f.get("filename").is_none(), "{env} {local}");
            let j = &d["resource"]["aws_signer_signing_job"][job];
            assert_eq!(j["profile_name"], "${aws_signer_signing_profile.lambda.name}", "{env} {job}");
            assert_eq!(j["source"]["s3"]["version"], format!("${{aws_s3_object.{job}.version_id}}"), "{env} {job}");
            let object = &d["resource"]["aws_s3_object"][job];
            assert_eq!(object["bucket"], "${aws_s3_bucket_versioning.artifacts.bucket}", "uploaded once versioned");
        }
        if enforced {
            let config = resources(&d, "aws_lambda_code_signing_config");
            assert!(config.iter().all(|(_, c)| c["policies"]["untrusted_artifact_on_deployment"] == "Enforce"));
        }
    }
}

fn preview(name: &str) -> crate::Settings {
    let name = settings::PreviewName::parse(name).unwrap();
    crate::Settings::for_preview(settings::Preview { name, expires: "2026-12-14T00:00:00Z".into() }, None)
}

#[test]
fn two_previews_and_dev_share_no_deployed_name() {
    let render = |s: crate::Settings| -> Value {
        serde_json::from_str(&crate::synth_settings(s, &Target::Aws, &Options::default()).unwrap().text).unwrap()
    };
    let stacks = [("dev", doc(Env::Dev)), ("pr-7", render(preview("pr-7"))), ("pr-8", render(preview("pr-8")))];
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    for (stage, d) in &stacks {
        let names = crate::review::rehearsal::deployed_names(d);
        assert!(names.len() > 100, "{stage}: only {} names found", names.len());
        for (at, name) in names {
            // Shared by design: none (the state bucket is the backend's, not a resource).
            if let Some(other) = owner.insert(name.clone(), format!("{stage}: {at}")) {
                assert!(other.starts_with(&format!("{stage}:")), "{name} is both {other} and {stage}: {at}");
            }
        }
    }
    // What a preview's stack says of dev: only what it shares on purpose (the state bucket, the identity provider's
    // issuer and audience, dev's example database where it has no branch).
    let pr7 = render(preview("pr-7"));
    let dev = Env::Dev.settings();
    let boundary = crate::pipeline::boundary_name(Env::Dev);
    let shared = [
        &dev.backend.bucket,
        &dev.okta_issuer,
        &dev.okta_audience,
        &dev.supabase_url,
        &dev.supabase_publishable_key,
        &boundary,
    ];
    let mut strings = Vec::new();
    fn leaves<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|v| leaves(v, out)),
            Value::Object(o) => o.values().for_each(|v| leaves(v, out)),
            _ => {}
        }
    }
    leaves(&pr7, &mut strings);
    let of_dev: Vec<&&str> = strings
        .iter()
        .filter(|s| s.contains("dev") && !shared.iter().any(|d| s.contains(d.as_str())))
        .filter(|s| !s.starts_with("Generated by"))
        .collect();
    assert!(of_dev.is_empty(), "the preview's stack names dev: {of_dev:?}");
    assert_eq!(pr7["terraform"]["backend"]["s3"]["key"], "previews/pr-7/terraform.tfstate");
    let tags = &pr7["provider"]["aws"]["default_tags"]["tags"];
    assert_eq!((tags["Preview"].as_str(), tags["Environment"].as_str()), (Some("pr-7"), Some("pr-7")), "{tags}");
    assert_eq!(tags["Expires"], "2026-12-14T00:00:00Z");
    for (_, bucket) in resources(&pr7, "aws_s3_bucket") {
        assert_eq!(bucket["force_destroy"], true, "a preview's buckets are emptied when it is removed");
    }
    assert!(resources(&doc(Env::Dev), "aws_s3_bucket").iter().all(|(_, b)| b.get("force_destroy").is_none()));
}

#[test]
fn the_longest_preview_name_keeps_every_name_within_awss_limits() {
    let longest = "a".repeat(settings::preview::MAX_NAME);
    let text = crate::synth_settings(preview(&longest), &Target::Aws, &Options::default()).unwrap().text;
    let d: Value = serde_json::from_str(&text).unwrap();
    // AWS's limits on the names that have one short enough to matter (the bucket's with the account id's 12 digits).
    let limit = |at: &str| match at.split('.').next().unwrap_or_default() {
        "aws_lambda_function" | "aws_iam_role" | "aws_scheduler_schedule" | "aws_scheduler_schedule_group" => 64,
        "aws_signer_signing_profile" => 64,
        "aws_s3_bucket" => 63 - 12,
        "aws_sqs_queue" => 80,
        "aws_iam_role_policy" | "aws_iam_policy" => 128,
        _ => 255,
    };
    for (at, name) in crate::review::rehearsal::deployed_names(&d) {
        assert!(name.len() <= limit(&at), "{at} = {name} ({} characters, limit {})", name.len(), limit(&at));
    }
}

/// The catalog's fixture module (`route_registry::fixtures`): one public route (a third party's webhook) and the queue
/// its function feeds, the shape `Auth::Public` is for.
mod public_route {
    use route_registry::fixtures::{EVENTS, MARK_REMOVED, MODULE as PUBLIC, RECEIVE, RECEIVER};
    use route_registry::{Function, Module, PUBLIC_ROUTE_THROTTLE};
    use serde_json::Value;

    use crate::{names, synth_catalog, Env, Options, Target};

    fn synthesized(module: Module) -> Value {
        let modules = [route_registry::modules::org::MODULE, module];
        let text = synth_catalog(Env::Dev.settings(), &Target::Aws, &Options::default(), &modules).unwrap().text;
        serde_json::from_str(&text).unwrap()
    }

    fn functions() -> Vec<Function> {
        route_registry::modules::org::MODULE
            .functions
            .iter()
            .copied()
            .chain([RECEIVER, EVENTS, route_registry::AUTHORIZER])
            .collect()
    }

    fn findings(doc: &Value, public: &[String]) -> Vec<(String, &'static str)> {
        crate::iam_check::check_with_public_routes(Env::Dev, doc, &functions(), public)
            .into_iter()
            .map(|f| (f.address, f.rule))
            .collect()
    }

    const ROUTE: &str = "aws_apigatewayv2_route";

    #[test]
    fn a_public_route_has_no_authorizer_is_throttled_and_is_the_only_one() {
        let d = synthesized(PUBLIC);
        let local = names::route_local(&RECEIVE);
        let route = &d["resource"][ROUTE][&local];
        assert_eq!(route["authorization_type"], "NONE");
        assert!(route["authorizer_id"].is_null());
        let stage = &d["resource"]["aws_apigatewayv2_stage"]["default"];
        let settings = &stage["route_settings"][0];
        assert_eq!(settings["route_key"], "POST /hooks/example");
        assert_eq!(settings["throttling_rate_limit"].as_f64(), Some(f64::from(PUBLIC_ROUTE_THROTTLE.rate_per_s)));
        assert_eq!(settings["throttling_burst_limit"], PUBLIC_ROUTE_THROTTLE.burst);
        assert_eq!(stage["depends_on"], serde_json::json!([format!("{ROUTE}.{local}")]));
        // Every other route stays behind the authorizer.
        let behind = d["resource"][ROUTE]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(name, _)| **name != local)
            .all(|(_, r)| r["authorization_type"] == "CUSTOM" && r["authorizer_id"].is_string());
        assert!(behind);
        assert!(d["resource"]["aws_cloudwatch_query_definition"]["api_public_routes"]["query_string"]
            .as_str()
            .unwrap()
            .contains(r#"filter routeKey in ["POST /hooks/example"]"#));
        assert_eq!(findings(&d, &[RECEIVE.key()]), []);
    }

    #[test]
    fn removing_the_catalog_mark_puts_the_route_back_behind_the_authorizer() {
        let d = synthesized(MARK_REMOVED);
        let route = &d["resource"][ROUTE][names::route_local(&RECEIVE)];
        assert_eq!(route["authorization_type"], "CUSTOM");
        assert_eq!(route["authorizer_id"], "${aws_apigatewayv2_authorizer.okta.id}");
        assert!(d["resource"]["aws_apigatewayv2_stage"]["default"]["route_settings"].is_null());
        assert!(d["resource"]["aws_cloudwatch_query_definition"]["api_public_routes"].is_null());
    }

    /// check-iam holds the file to the catalog: a route without the authorizer that the catalog does not mark public,
    /// and a public route the stage does not throttle, are findings.
    #[test]
    fn check_iam_refuses_an_unmarked_route_without_the_authorizer_and_an_unthrottled_public_one() {
        let mut d = synthesized(PUBLIC);
        assert_eq!(
            findings(&d, &[]),
            [(format!("{ROUTE}.{}", names::route_local(&RECEIVE)), "route-without-authorizer")],
            "the file's route is public, the catalog's is not"
        );
        let org_route = format!("{ROUTE}.{}", names::route_local(&route_registry::modules::org::GET_PROFILE));
        let get_profile = &mut d["resource"][ROUTE][names::route_local(&route_registry::modules::org::GET_PROFILE)];
        get_profile["authorization_type"] = "NONE".into();
        get_profile.as_object_mut().unwrap().remove("authorizer_id");
        d["resource"]["aws_apigatewayv2_stage"]["default"].as_object_mut().unwrap().remove("route_settings");
        let mut found = findings(&d, &[RECEIVE.key()]);
        found.sort();
        assert_eq!(
            found,
            [
                (org_route, "route-without-authorizer"),
                ("aws_apigatewayv2_stage.default".to_owned(), "public-route-unthrottled")
            ]
        );
    }
}
