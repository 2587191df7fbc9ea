//! The deploy's decisions: the plan summary and its refusal, which functions need a release, and releases through
//! the CodeDeploy stand-in (shift, wait, stop on an alarm, roll back, a running deployment waited on).

use std::time::Duration;

use serde_json::json;
use standins::codedeploy::{CodeDeployStandin, Options};

use super::*;

fn change(address: &str, ty: &str, actions: &[&str]) -> Value {
    json!({"address": address, "mode": "managed", "type": ty, "change": {"actions": actions}})
}

#[test]
fn a_plan_is_summarized_by_type_and_refused_when_it_loses_data() {
    let plan = json!({"resource_changes": [
        change("aws_lambda_function.org_orgs", "aws_lambda_function", &["update"]),
        change("aws_lambda_function.org_members", "aws_lambda_function", &["update"]),
        change("aws_lambda_alias.org_orgs", "aws_lambda_alias", &["no-op"]),
        change("aws_iam_role.x", "aws_iam_role", &["create"]),
        change("aws_s3_bucket.documents", "aws_s3_bucket", &["delete", "create"]),
        change("aws_sqs_queue.imports", "aws_sqs_queue", &["delete"]),
        change("aws_cloudwatch_metric_alarm.a", "aws_cloudwatch_metric_alarm", &["delete"]),
        {"address": "data.aws_caller_identity.me", "mode": "data", "type": "aws_caller_identity", "change": {"actions": ["read"]}},
    ]});
    let summary = summarize(&plan);
    assert_eq!(summary.by_type["aws_lambda_function"], [0, 2, 0, 0]);
    assert_eq!(summary.by_type["aws_iam_role"], [1, 0, 0, 0]);
    assert_eq!(summary.by_type["aws_s3_bucket"], [0, 0, 1, 0]);
    assert!(!summary.by_type.contains_key("aws_lambda_alias"), "a no-op is no change");
    assert!(!summary.by_type.contains_key("aws_caller_identity"), "a data source is no change");
    assert_eq!(summary.losses.len(), 2, "{:?}", summary.losses);
    assert!(summary.losses[0].contains("aws_s3_bucket.documents would be replaced"), "{:?}", summary.losses);
    assert!(summary.losses[1].contains("aws_sqs_queue.imports would be destroyed, losing the messages"));
    let refused = summary.refuse(false).map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(refused.contains("--allow-data-loss") && refused.contains("renamed:"), "{refused}");
    assert!(summary.refuse(true).is_ok());
    let text = summary.render();
    assert!(text.contains("plan: 1 to create, 2 to update, 1 to replace, 2 to destroy"), "{text}");
    // Alarms and functions come and go without data: never refused.
    let harmless = summarize(
        &json!({"resource_changes": [change("aws_cloudwatch_metric_alarm.a", "aws_cloudwatch_metric_alarm", &["delete"])]}),
    );
    assert!(harmless.refuse(false).is_ok());
}

#[test]
fn a_function_needs_a_release_when_its_alias_lags_its_newest_version() {
    let resource =
        |ty: &str, name: &str, values: Value| json!({"type": ty, "name": name, "mode": "managed", "values": values});
    let state = json!({"values": {"root_module": {"resources": [
        resource("aws_lambda_function", "org_orgs", json!({"function_name": "career-dev-org-orgs", "version": "3"})),
        resource("aws_lambda_alias", "org_orgs", json!({"name": "live", "function_version": "2"})),
        resource("aws_lambda_function", "org_members", json!({"function_name": "career-dev-org-members", "version": "1"})),
        resource("aws_lambda_alias", "org_members", json!({"name": "live", "function_version": "1"})),
    ]}}});
    assert_eq!(
        releases(&state),
        vec![Pending {
            function: "career-dev-org-orgs".into(),
            alias: "live".into(),
            current: "2".into(),
            target: "3".into()
        }]
    );
}

/// A stand-in with one application and a group per function, each watching `alarm-<function>`.
fn standin(config: &str, functions: &[&str]) -> (CodeDeployStandin, Aws) {
    let cd = CodeDeployStandin::start(Options { minute: Duration::from_millis(40), lambda_endpoint: None })
        .expect("the stand-in starts");
    let aws = Aws::emulated("us-east-1", &cd.url, "http://127.0.0.1:9").expect("a client");
    aws.codedeploy("CreateApplication", &json!({"applicationName": "app", "computePlatform": "Lambda"})).expect("app");
    for f in functions {
        aws.codedeploy(
            "CreateDeploymentGroup",
            &json!({"applicationName": "app", "deploymentGroupName": f, "deploymentConfigName": config,
                "serviceRoleArn": "arn:aws:iam::000000000000:role/r",
                "alarmConfiguration": {"enabled": true, "alarms": [{"name": format!("alarm-{f}")}]},
                "autoRollbackConfiguration": {"enabled": true, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}}),
        )
        .expect("group");
        cd.put_alias(f, "live", "1");
    }
    (cd, aws)
}

/// Leaves a test's exchanges for the contract check of the deploy rehearsal (botocore's model).
fn keep(cd: &CodeDeployStandin, test: &str) {
    let dir = crate::deploy_local::contract_dir();
    let lines: Vec<String> = cd.exchanges().iter().map(standins::codedeploy::Exchange::to_line).collect();
    std::fs::create_dir_all(&dir).expect("the contract folder");
    std::fs::write(dir.join(format!("{test}.jsonl")), lines.join("\n")).expect("the exchanges written");
}

fn pending(f: &str) -> Pending {
    Pending { function: f.into(), alias: "live".into(), current: "1".into(), target: "2".into() }
}

#[test]
fn a_canary_shifts_ten_percent_then_all_and_a_second_function_goes_alongside() {
    let (cd, aws) = standin("CodeDeployDefault.LambdaCanary10Percent5Minutes", &["a", "b"]);
    let done = release_all(&aws, "app", &[pending("a"), pending("b")], Duration::from_millis(20)).expect("released");
    assert!(done.iter().all(|r| r.status == "Succeeded"), "{done:?}");
    for (f, r) in ["a", "b"].iter().zip(&done) {
        let alias = cd.alias(f, "live").expect("alias");
        assert_eq!((alias.version.as_str(), alias.weights.len()), ("2", 0), "{f}");
        let shifts = cd.shifts(&r.deployment);
        assert_eq!(shifts.len(), 2, "{shifts:?}");
        assert_eq!((shifts[0].version.as_str(), shifts[0].weights.get("2")), ("1", Some(&0.1)));
        // The canary held five minutes (5 × 40 ms here) before the rest.
        assert!(r.took >= Duration::from_millis(200), "{:?}", r.took);
    }
    keep(&cd, "a_canary_shifts_ten_percent_then_all_and_a_second_function_goes_alongside");
}

#[test]
fn an_alarm_stops_the_rollout_and_the_alias_serves_the_previous_version() {
    let (cd, aws) = standin("CodeDeployDefault.LambdaLinear10PercentEvery1Minute", &["a", "b"]);
    // `a`'s alarm goes off while it is at 10 %; `b` has none.
    cd.set_alarm("alarm-a", true);
    let done = release_all(&aws, "app", &[pending("a"), pending("b")], Duration::from_millis(20)).expect("waited");
    let a = done.iter().find(|r| r.pending.function == "a").expect("a");
    assert_eq!(a.status, "Stopped", "{a:?}");
    assert!(a.error.as_deref().is_some_and(|e| e.starts_with("ALARM_ACTIVE") && e.contains("alarm-a")), "{a:?}");
    assert!(a.rollback.is_some(), "{a:?}");
    assert_eq!(cd.alias("a", "live").map(|x| (x.version, x.weights.len())), Some(("1".into(), 0)));
    assert_eq!(cd.shifts(&a.deployment).len(), 1, "stopped at the first step");
    let b = done.iter().find(|r| r.pending.function == "b").expect("b");
    assert_eq!(b.status, "Succeeded");
    assert_eq!(cd.shifts(&b.deployment).len(), 10, "linear: ten steps of 10 %");
    assert_eq!(cd.alias("b", "live").map(|x| x.version), Some("2".into()));
    keep(&cd, "an_alarm_stops_the_rollout_and_the_alias_serves_the_previous_version");
}

#[test]
fn a_release_from_a_stale_version_fails_and_changes_nothing() {
    let (cd, aws) = standin("CodeDeployDefault.LambdaAllAtOnce", &["a"]);
    cd.put_alias("a", "live", "7");
    let done = release_all(&aws, "app", &[pending("a")], Duration::from_millis(20)).expect("waited");
    assert_eq!(done[0].status, "Failed", "{done:?}");
    assert!(done[0].error.as_deref().is_some_and(|e| e.contains("doesn't match")), "{done:?}");
    assert_eq!(cd.alias("a", "live").map(|x| x.version), Some("7".into()));
    keep(&cd, "a_release_from_a_stale_version_fails_and_changes_nothing");
}

#[test]
fn a_deployment_still_running_is_waited_on_not_doubled() {
    let (cd, aws) = standin("CodeDeployDefault.LambdaCanary10Percent5Minutes", &["a"]);
    let first = start(&aws, "app", &pending("a")).expect("first");
    // An interrupted deploy left `first` running; the next run finds it instead of failing on the group's limit.
    let second = start(&aws, "app", &pending("a")).expect("second");
    assert_eq!(first, second);
    let done = release_all(&aws, "app", &[pending("a")], Duration::from_millis(20)).expect("waited");
    assert_eq!(done[0].deployment, first);
    assert_eq!(done[0].status, "Succeeded");
    assert_eq!(cd.alias("a", "live").map(|x| x.version), Some("2".into()));
    let creates = cd.exchanges().iter().filter(|e| e.operation == "CreateDeployment" && e.status == 200).count();
    assert_eq!(creates, 1);
    keep(&cd, "a_deployment_still_running_is_waited_on_not_doubled");
}

#[test]
fn a_stopped_deployment_rolls_back() {
    let (cd, aws) = standin("CodeDeployDefault.LambdaCanary10Percent5Minutes", &["a"]);
    let id = start(&aws, "app", &pending("a")).expect("started");
    std::thread::sleep(Duration::from_millis(60));
    aws.codedeploy("StopDeployment", &json!({"deploymentId": id, "autoRollbackEnabled": true})).expect("stop");
    let started = [(pending("a"), id.clone(), std::time::Instant::now())];
    let done = wait_all(&aws, &started, Duration::from_millis(20)).expect("waited");
    assert_eq!(done[0].status, "Stopped");
    assert!(done[0].error.as_deref().is_some_and(|e| e.starts_with("MANUAL_STOP")));
    assert_eq!(cd.alias("a", "live").map(|x| (x.version, x.weights.len())), Some(("1".into(), 0)));
    let again = aws.codedeploy("StopDeployment", &json!({"deploymentId": id}));
    assert_eq!(again.as_ref().err().and_then(crate::aws::code), Some("DeploymentAlreadyCompletedException"));
    keep(&cd, "a_stopped_deployment_rolls_back");
}

#[test]
fn the_appspec_names_the_function_alias_and_versions() {
    let spec: Value = serde_json::from_str(&appspec(&pending("career-dev-org-orgs"))).expect("JSON");
    let props = &spec["Resources"][0]["career-dev-org-orgs"]["Properties"];
    assert_eq!(spec["Resources"][0]["career-dev-org-orgs"]["Type"], "AWS::Lambda::Function");
    assert_eq!((props["Name"].as_str(), props["Alias"].as_str()), (Some("career-dev-org-orgs"), Some("live")));
    assert_eq!((props["CurrentVersion"].as_str(), props["TargetVersion"].as_str()), (Some("1"), Some("2")));
}

#[test]
fn a_long_plan_is_split_into_comments_under_githubs_limit() {
    let plan: String = (0..5000).map(|i| format!("  + resource line {i} {}\n", "x".repeat(i % 90))).collect();
    let summary = "    plan: 5000 to create, 0 to update, 0 to replace, 0 to destroy\n";
    let parts = comments("dev", summary, &plan, 65_536);
    assert!(parts.len() >= 4, "{} parts", parts.len());
    for (i, part) in parts.iter().enumerate() {
        assert!(part.chars().count() <= 65_536, "part {i}: {} characters", part.chars().count());
        assert!(part.starts_with(&format!("### terraform plan: dev (part {} of {})", i + 1, parts.len())));
        assert_eq!(part.matches("```").count(), 2, "part {i} opens and closes its code block");
    }
    assert!(parts[0].contains("5000 to create"));
    // Every line of the plan is in exactly one part, in order.
    let joined: String =
        parts.iter().flat_map(|p| p.lines().filter(|l| l.starts_with("  + "))).map(|l| format!("{l}\n")).collect();
    assert_eq!(joined, plan);
    // A short plan is one comment without a part number.
    let one = comments("prd", summary, "  + one\n", 65_536);
    assert_eq!(one.len(), 1);
    assert!(one[0].starts_with("### terraform plan: prd\n"));
}

/// Answers every probe as a healthy version does, except for `broken`, which serves routes without a caller.
struct Versions {
    broken: String,
}

impl Invoke for Versions {
    fn invoke(&self, function: &str, _version: &str, event: &Value) -> Result<(Value, bool)> {
        if function.ends_with("platform-authorizer") {
            return Ok((json!({"isAuthorized": false}), false));
        }
        if event.get("routeKey").is_some() {
            let status = if function == self.broken { 200 } else { 401 };
            return Ok((json!({"statusCode": status}), false));
        }
        if event.get("Records").is_some() {
            return Ok((json!({"batchItemFailures": []}), false));
        }
        Ok((Value::Null, false))
    }
}

#[test]
fn a_version_failing_its_pre_traffic_check_takes_no_traffic() {
    let settings = Env::Dev.settings();
    let names: Vec<String> =
        route_registry::all_functions().map(|f| stacks::names::function_name(&settings, &f)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (cd, aws) = standin("CodeDeployDefault.LambdaAllAtOnce", &refs);
    let broken = stacks::names::function_name(&settings, &route_registry::modules::org::PROFILES);
    let pending: Vec<Pending> = names.iter().map(|n| pending(n)).collect();
    let checked = pre_traffic_check(&Versions { broken: broken.clone() }, &Env::Dev.settings(), &pending);
    assert_eq!(checked.refused.len(), 1, "{:?}", checked.refused);
    assert!(
        checked.refused[0].starts_with(&format!("{broken} version 2: GET /profiles/me without a token")),
        "{:?}",
        checked.refused
    );
    assert_eq!(checked.passed.len(), names.len() - 1);
    let done = release_all(&aws, "app", &checked.passed, Duration::from_millis(20)).expect("released");
    assert!(done.iter().all(|r| r.status == "Succeeded"));
    assert_eq!(cd.alias(&broken, "live").map(|a| a.version), Some("1".into()), "the refused version took no traffic");
    let other = names.iter().find(|n| **n != broken).expect("another function");
    assert_eq!(cd.alias(other, "live").map(|a| a.version), Some("2".into()));
    keep(&cd, "a_version_failing_its_pre_traffic_check_takes_no_traffic");
    // A version that cannot be invoked at all is refused too.
    struct Unreachable;
    impl Invoke for Unreachable {
        fn invoke(&self, _: &str, _: &str, _: &Value) -> Result<(Value, bool)> {
            anyhow::bail!("AccessDeniedException")
        }
    }
    let none = pre_traffic_check(&Unreachable, &Env::Dev.settings(), &pending[..1]);
    assert!(none.passed.is_empty() && none.refused[0].contains("cannot invoke"), "{none:?}");
}
