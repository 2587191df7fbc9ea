//! Releases through CodeDeploy: one application per environment (Lambda platform) and, per function, a deployment
//! group that shifts the function's alias ([`names::ALIAS`]) to a new version the way the environment says
//! (`Settings::deployment_config`: dev and tst all at once, stg linearly, prd a canary), watches alarms while it does,
//! and rolls back by itself when the deployment fails or an alarm goes off.
//!
//! The alarms a group watches are the function's own (crashes, duration, throttles, and what its trigger kind adds:
//! its 5xx rate, dead letters, a queue's age, anomalies) and then the API's (5xx rate, p99 latency), at most
//! [`MAX_ALARMS`], CodeDeploy's limit per group: the function's own come first because they say whether this
//! function is at fault; the API's catch what the function's miss (a change that breaks callers without failing
//! itself). No function has more than six of its own today, so nothing is left out (a test holds it).
//!
//! Each group has its own role, trusted by CodeDeploy for this account's resources only, that may move that
//! function's alias and read the alarms the group watches (`grants::of_deployment`, held by `check-iam`).

use infra_dsl::aws::codedeploy_deployment_group::{AlarmConfiguration, AutoRollbackConfiguration, DeploymentStyle};
use infra_dsl::aws::{CloudwatchMetricAlarm, CodedeployApp, CodedeployDeploymentGroup, IamRole, IamRolePolicy};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Expr, Ref, Stack};

use crate::model::{function_tags, Delivery, DeployedFunction, Platform};
use crate::{grants, names};

/// CodeDeploy's limit of alarms per deployment group.
pub const MAX_ALARMS: usize = 10;

/// The alarms a function's group watches: its own, then the API's, at most [`MAX_ALARMS`].
pub fn watched(d: &DeployedFunction, api_alarms: &[Ref<CloudwatchMetricAlarm>]) -> Vec<Ref<CloudwatchMetricAlarm>> {
    d.alarms.iter().chain(api_alarms).take(MAX_ALARMS).cloned().collect()
}

/// The environment's CodeDeploy application (Lambda platform).
pub fn add(
    stack: &mut Stack,
    platform: &Platform,
    api_alarms: Vec<Ref<CloudwatchMetricAlarm>>,
) -> Result<Delivery, DslError> {
    if platform.emulator {
        return Ok(Delivery { app: None, api_alarms });
    }
    let app = stack.add(
        CodedeployApp::new(names::DEPLOY_APP, format!("{}-lambda", platform.settings.name_prefix))
            .compute_platform("Lambda")
            .tags([("Module".to_owned(), "platform".to_owned())].into_iter().collect::<crate::model::Tags>()),
    )?;
    Ok(Delivery { app: Some(app), api_alarms })
}

/// A function's deployment group, with its own role; after its alarms, and owned by it (it moves with the
/// function when the function is renamed).
pub fn add_group(
    delivery: &Delivery,
    stack: &mut Stack,
    platform: &Platform,
    d: &mut DeployedFunction,
) -> Result<(), DslError> {
    let Some(app) = &delivery.app else { return Ok(()) };
    let f = d.function;
    let role_local = names::deploy_role_local(&f);
    let assume = PolicyDocument::new(vec![Statement::allow(&["sts:AssumeRole"])
        .principal(Principal::service("codedeploy.amazonaws.com"))
        .condition("StringEquals", "aws:SourceAccount", [platform.account.id()])]);
    let role = stack.add(
        IamRole::new(&role_local, assume.to_expr()?)
            .name(format!("{}-deploy", d.name))
            .description(format!("CodeDeploy's role for {}: moves only its alias and reads its alarms.", d.name))
            .permissions_boundary(crate::pipeline::boundary_arn(&platform.account))
            .tags(function_tags(&f)),
    )?;
    let alarms = watched(d, &delivery.api_alarms);
    let mut statements = grants::statements(&grants::of_deployment(&f), &names::local(&f));
    statements.push(
        Statement::allow(&["cloudwatch:DescribeAlarms"])
            .sid("WatchedAlarms")
            .resources(alarms.iter().map(|a| a.arn()).collect::<Vec<Expr>>()),
    );
    let policy = stack.add(
        IamRolePolicy::new(&role_local, PolicyDocument::new(statements).to_expr()?, role.id())
            .name(format!("{}-deploy-policy", d.name)),
    )?;
    let group = stack.add(
        CodedeployDeploymentGroup::new(names::local(&f), app.name(), d.name.clone(), role.arn())
            .deployment_config_name(platform.settings.deployment_config)
            .deployment_style(
                DeploymentStyle::new().deployment_type("BLUE_GREEN").deployment_option("WITH_TRAFFIC_CONTROL"),
            )
            .alarm_configuration(
                AlarmConfiguration::new()
                    .enabled(true)
                    .alarms(alarms.iter().map(|a| a.alarm_name()).collect::<Vec<Expr>>()),
            )
            .auto_rollback_configuration(
                AutoRollbackConfiguration::new()
                    .enabled(true)
                    .events(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]),
            )
            .tags(function_tags(&f))
            .depends_on(&policy),
    )?;
    d.owns(&role);
    d.owns(&policy);
    d.owns(&group);
    Ok(())
}
