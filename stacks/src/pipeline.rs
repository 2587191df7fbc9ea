//! The pipeline's access to an environment, made by its bootstrap root (the one root a person with administrator
//! rights applies, once and when this changes): GitHub's OIDC identity provider, and two roles only GitHub's tokens
//! for this repository can assume, with no long-lived key anywhere.
//!
//! - `career-<env>-deploy`, for the job of `.github/workflows/deploy-env.yml` running in the GitHub environment
//!   `<env>` (the token's `sub` is `repo:<owner>/<name>:environment:<env>`, matched exactly): what `cargo xtask
//!   deploy <env>` needs, each action on the environment's own names (`<env>-*`, `career-<env>-*`) wherever IAM can
//!   tell resources apart, and never a secret's value.
//! - `career-<env>-plan`, for the pull request's plan job (`environment: <env>-plan`): reads only, and the state's
//!   lock object.
//! - `career-dev-preview`, in dev's account only, for the pull request's preview jobs (`environment: preview`):
//!   the deploy role's actions on the names of previews the pipeline makes (`pr-*`, `career-pr-*`) and the state
//!   objects under `previews/`, never dev's; and the listings `preview down` checks what is left with.
//!
//! A role that creates roles could create one stronger than itself. So every role the platform makes carries a
//! permissions boundary, `career-<env>-boundary`, made here: the union of the actions the platform's own role
//! policies use (derived from the synthesized platform, so it grows with the modules) and no IAM at all; the deploy
//! role may create roles and write their policies only with that boundary, and may pass roles only to Lambda,
//! CodeDeploy and EventBridge Scheduler. `check-iam` holds all of this (`iam_check::pipeline`).

use std::collections::BTreeSet;

use infra_dsl::aws::{IamOpenidConnectProvider, IamPolicy, IamRole, IamRolePolicy};
use infra_dsl::policy::{PolicyDocument, Principal, Statement};
use infra_dsl::{Block, DslError, Expr, Stack};

use crate::model::Account;
use crate::Env;

/// GitHub's OIDC issuer (host and path, as IAM names its condition keys).
pub const GITHUB_ISSUER: &str = "token.actions.githubusercontent.com";

/// Actions that IAM cannot limit to a resource (their `Resource` must be `*`): the only ones the pipeline's roles
/// hold on `*`, each with why it is needed.
pub const ANY_RESOURCE: &[(&str, &str)] = &[
    ("lambda:CreateEventSourceMapping", "a mapping's ARN does not exist before it; limited by lambda:FunctionArn"),
    ("lambda:ListEventSourceMappings", "Terraform lists a function's mappings"),
    ("lambda:CreateCodeSigningConfig", "a configuration's id is random"),
    ("logs:DescribeLogGroups", "takes no resource"),
    ("logs:PutQueryDefinition", "query definitions have no ARN"),
    ("logs:DeleteQueryDefinition", "query definitions have no ARN"),
    ("logs:DescribeQueryDefinitions", "query definitions have no ARN"),
    ("logs:CreateLogDelivery", "the API's access logs; deliveries have no ARN"),
    ("logs:GetLogDelivery", "the API's access logs; deliveries have no ARN"),
    ("logs:UpdateLogDelivery", "the API's access logs; deliveries have no ARN"),
    ("logs:DeleteLogDelivery", "the API's access logs; deliveries have no ARN"),
    ("logs:ListLogDeliveries", "the API's access logs; deliveries have no ARN"),
    ("logs:PutResourcePolicy", "the API's access logs; resource policies have no ARN"),
    ("logs:DescribeResourcePolicies", "takes no resource"),
    ("kms:CreateKey", "a key's id is random"),
    ("kms:ListAliases", "takes no resource"),
    ("signer:GetSigningPlatform", "platforms are AWS's"),
    ("codedeploy:GetDeploymentConfig", "the predefined configurations are AWS's"),
    ("lambda:ListFunctions", "a listing (preview down: what is left)"),
    ("iam:ListRoles", "a listing (preview down: what is left)"),
    ("logs:DescribeLogGroups", "a listing (preview down: what is left)"),
    ("sqs:ListQueues", "a listing (preview down: what is left)"),
    ("s3:ListAllMyBuckets", "a listing (preview down: what is left)"),
    ("secretsmanager:ListSecrets", "a listing (preview down: what is left)"),
    ("cloudwatch:DescribeAlarms", "a listing (preview down: what is left)"),
    ("cloudwatch:ListDashboards", "a listing (preview down: what is left)"),
    ("scheduler:ListScheduleGroups", "a listing (preview down: what is left)"),
    ("scheduler:ListSchedules", "a listing (preview down: what is left)"),
    ("apigateway:GET", "a listing of the APIs (preview down: what is left); elsewhere scoped to the API"),
    ("sns:ListTopics", "a listing (preview down: what is left)"),
];

/// The settings the preview role's policy is written from: a preview named `pr`, whose names are a prefix of every
/// `pr-<number>` preview's (`settings::preview::PIPELINE_PREVIEWS`).
fn pipeline_previews() -> crate::Settings {
    crate::Settings::for_preview(crate::Preview { name: crate::PreviewName::pipeline(), expires: String::new() }, None)
}

/// The ARN of the environment's permissions boundary (every platform role carries it; a preview's roles carry
/// dev's, which the bootstrap of dev's account makes).
pub fn boundary_arn(account: &Account) -> Expr {
    Expr::lit("arn:")
        + account.partition.partition()
        + ":iam::"
        + account.id()
        + format!(":policy/{}", boundary_name(account.settings.env))
}

/// `career-<env>-boundary`.
pub fn boundary_name(env: Env) -> String {
    format!("{}-boundary", env.settings().name_prefix)
}

/// The OIDC `sub` of a job of `repository` running in GitHub environment `environment`.
pub fn subject(repository: &str, environment: &str) -> String {
    format!("repo:{repository}:environment:{environment}")
}

/// Whether `env` makes the account's GitHub provider: the first environment of the settings table in its account
/// (an account holds one provider per issuer; the others refer to it by its fixed ARN).
fn makes_provider(env: Env) -> bool {
    let account = env.settings().account_id;
    Env::ALL.iter().find(|e| e.settings().account_id == account) == Some(&env)
}

/// The provider, the boundary and the two roles.
pub fn add(stack: &mut Stack, account: &Account, boundary_actions: &BTreeSet<String>) -> Result<(), DslError> {
    let s = &account.settings;
    let env = s.env;
    let provider_arn = Expr::lit("arn:")
        + account.partition.partition()
        + ":iam::"
        + account.id()
        + format!(":oidc-provider/{GITHUB_ISSUER}");
    let provider = match makes_provider(env) {
        true => Some(
            stack.add(
                IamOpenidConnectProvider::new("github", ["sts.amazonaws.com"], format!("https://{GITHUB_ISSUER}"))
                    .tags(crate::model::tags(&[("Module", "bootstrap")])),
            )?,
        ),
        false => None,
    };
    let actions: Vec<&str> = boundary_actions.iter().map(String::as_str).collect();
    let boundary = PolicyDocument::new(vec![
        Statement::allow(&actions).sid("WhatThePlatformsRolesUse").resources(["*"]),
        Statement::deny(&["iam:*", "sts:*", "organizations:*", "account:*"]).sid("NoIdentityChanges").resources(["*"]),
    ]);
    stack.add(
        IamPolicy::new("boundary", boundary.to_expr()?)
            .name(boundary_name(env))
            .description(format!(
                "The most any role of {env}'s platform may do: what its role policies use, and no IAM (cargo xtask bootstrap {env})"
            ))
            .tags(crate::model::tags(&[("Module", "bootstrap")])),
    )?;
    let mut roles = vec![
        ("deploy", env.as_str().to_owned(), deploy_statements(account), format!("deploys {env}")),
        ("plan", format!("{env}-plan"), plan_statements(account), format!("plans {env}")),
    ];
    if env == Env::Dev {
        let previews = Account {
            settings: pipeline_previews(),
            identity: account.identity.clone(),
            partition: account.partition.clone(),
        };
        // Previews never sign their packages (only where signing is enforced, prd, does the apply sign).
        let signing_only = ["SignPackages", "SigningJobs", "PackagesInTheArtifactsBucket"];
        let mut statements: Vec<Statement> = deploy_statements(&previews)
            .into_iter()
            .filter(|st| !st.sid_of().is_some_and(|sid| signing_only.contains(&sid)))
            .collect();
        statements.push(inventory_statement(&previews));
        roles.push((
            "preview",
            PREVIEW_ENVIRONMENT.to_owned(),
            statements,
            "brings pull requests' previews (pr-*) up and down in".to_owned(),
        ));
    }
    for (local, environment, statements, what) in roles {
        let trust = PolicyDocument::new(vec![Statement::allow(&["sts:AssumeRoleWithWebIdentity"])
            .principal(Principal::Federated(provider_arn.clone()))
            .condition("StringEquals", &format!("{GITHUB_ISSUER}:aud"), ["sts.amazonaws.com"])
            .condition("StringEquals", &format!("{GITHUB_ISSUER}:sub"), [subject(s.github_repository, &environment)])]);
        let mut role = IamRole::new(local, trust.to_expr()?)
            .name(format!("{}-{local}", s.name_prefix))
            .description(format!(
                "The pipeline {what}: GitHub's OIDC tokens of {} in environment {environment} only",
                s.github_repository
            ))
            .max_session_duration(3600)
            .tags(crate::model::tags(&[("Module", "bootstrap")]));
        if let Some(provider) = &provider {
            // IAM refuses a trust policy naming a provider that does not exist yet.
            role = role.depends_on(provider);
        }
        let role = stack.add(role)?;
        stack.add(
            IamRolePolicy::new(local, PolicyDocument::new(statements).to_expr()?, role.id())
                .name(format!("{}-{local}-policy", s.name_prefix)),
        )?;
    }
    Ok(())
}

/// The GitHub environment of the pull requests' preview jobs.
pub const PREVIEW_ENVIRONMENT: &str = "preview";

/// What `preview down` lists to prove nothing of a preview is left (every kind of resource a stack names).
fn inventory_statement(_account: &Account) -> Statement {
    let actions: Vec<&str> =
        ANY_RESOURCE.iter().filter(|(_, why)| why.starts_with("a listing")).map(|(a, _)| *a).collect();
    Statement::allow(&actions).sid("WhatIsLeft").resources(["*"])
}

/// The schedule group's name, or for the preview role every preview's (`career-pr-*`).
fn schedule_group(account: &Account) -> String {
    match account.settings.preview {
        Some(_) => format!("{}-*", account.settings.name_prefix),
        None => account.settings.name_prefix.clone(),
    }
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>` for each resource pattern.
fn arns(account: &Account, service: &str, resources: &[String]) -> Vec<Expr> {
    resources.iter().map(|r| account.arn(service, r)).collect()
}

/// IAM's ARNs have no region.
fn iam_arn(account: &Account, resource: &str) -> Expr {
    Expr::lit("arn:") + account.partition.partition() + ":iam::" + account.id() + format!(":{resource}")
}

/// The state bucket: its objects under `prefixes`.
fn state_objects(account: &Account, prefixes: &[&str]) -> Vec<Expr> {
    let bucket = &account.settings.backend.bucket;
    prefixes.iter().map(|p| Expr::lit("arn:") + account.partition.partition() + format!(":s3:::{bucket}/{p}")).collect()
}

/// The packages in the artifacts bucket (where the environment signs them; `crate::signing`).
fn artifacts(account: &Account) -> Expr {
    Expr::lit("arn:") + account.partition.partition() + format!(":s3:::{}-artifacts-*/*", account.settings.name_prefix)
}

fn state_bucket(account: &Account) -> Expr {
    Expr::lit("arn:") + account.partition.partition() + format!(":s3:::{}", account.settings.backend.bucket)
}

/// The names the environment's resources have: `<env>-<module>-…` (functions, roles, queues, schedules, alarms)
/// and `career-<env>-…` (the API, the key aliases, the topic, the secrets, the buckets, the dashboard).
fn names(account: &Account) -> (String, String) {
    (format!("{}-", account.settings.stage), format!("{}-", account.settings.name_prefix))
}

fn deploy_statements(account: &Account) -> Vec<Statement> {
    let (env, prefix) = names(account);
    let region = account.settings.region;
    let functions = arns(account, "lambda", &[format!("function:{env}*"), format!("function:{env}*:*")]);
    let roles = vec![iam_arn(account, &format!("role/{env}*"))];
    let buckets: Vec<Expr> = [format!("{prefix}*")]
        .iter()
        .map(|b| Expr::lit("arn:") + account.partition.partition() + format!(":s3:::{b}"))
        .collect();
    vec![
        Statement::allow(&["s3:ListBucket"]).sid("StateBucket").resources(vec![state_bucket(account)]),
        Statement::allow(&["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]).sid("StateAndDeployRecord").resources(
            state_objects(
                account,
                if account.settings.preview.is_some() { &["previews/*"] } else { &["platform/*", "deploys/*"] },
            ),
        ),
        Statement::allow(&[
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:GetFunction*",
            "lambda:UpdateFunction*",
            "lambda:PublishVersion",
            "lambda:ListVersionsByFunction",
            "lambda:GetRuntimeManagementConfig",
            "lambda:CreateAlias",
            "lambda:GetAlias",
            "lambda:UpdateAlias",
            "lambda:DeleteAlias",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:GetPolicy",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:ListTags",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
            "lambda:PutFunctionEventInvokeConfig",
            "lambda:DeleteFunctionEventInvokeConfig",
            "lambda:PutFunctionCodeSigningConfig",
            "lambda:DeleteFunctionCodeSigningConfig",
            "lambda:InvokeFunction",
        ])
        .sid("Functions")
        .resources(functions.clone()),
        Statement::allow(&["lambda:CreateEventSourceMapping"])
            .sid("QueueMappingsOfOurFunctions")
            .resources(["*"])
            .condition("ArnLike", "lambda:FunctionArn", functions),
        Statement::allow(&["lambda:ListEventSourceMappings", "lambda:CreateCodeSigningConfig"])
            .sid("LambdaWithoutResource")
            .resources(["*"]),
        Statement::allow(&[
            "lambda:GetEventSourceMapping",
            "lambda:UpdateEventSourceMapping",
            "lambda:DeleteEventSourceMapping",
        ])
        .sid("QueueMappings")
        .resources(arns(account, "lambda", &["event-source-mapping:*".into()])),
        Statement::allow(&[
            "lambda:GetCodeSigningConfig",
            "lambda:UpdateCodeSigningConfig",
            "lambda:DeleteCodeSigningConfig",
        ])
        .sid("CodeSigningConfig")
        .resources(arns(account, "lambda", &["code-signing-config:*".into()])),
        Statement::allow(&[
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:PutRolePermissionsBoundary",
        ])
        .sid("RolesOnlyWithTheBoundary")
        .resources(roles.clone())
        .condition("StringEquals", "iam:PermissionsBoundary", vec![boundary_arn(account)]),
        Statement::allow(&[
            "iam:GetRole",
            "iam:DeleteRole",
            "iam:UpdateRole",
            "iam:UpdateRoleDescription",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:GetRolePolicy",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
        ])
        .sid("Roles")
        .resources(roles.clone()),
        Statement::allow(&["iam:PassRole"]).sid("PassRolesToTheirServices").resources(roles).condition(
            "StringEquals",
            "iam:PassedToService",
            ["lambda.amazonaws.com", "codedeploy.amazonaws.com", "scheduler.amazonaws.com"],
        ),
        Statement::allow(&[
            "apigateway:GET",
            "apigateway:POST",
            "apigateway:PUT",
            "apigateway:PATCH",
            "apigateway:DELETE",
        ])
        .sid("HttpApi")
        .resources(vec![
            Expr::lit("arn:") + account.partition.partition() + format!(":apigateway:{region}::/apis"),
            Expr::lit("arn:") + account.partition.partition() + format!(":apigateway:{region}::/apis/*"),
            Expr::lit("arn:") + account.partition.partition() + format!(":apigateway:{region}::/tags/*"),
        ]),
        Statement::allow(&[
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:TagLogGroup",
            "logs:ListTagsForResource",
            "logs:ListTagsLogGroup",
        ])
        .sid("LogGroups")
        .resources(arns(
            account,
            "logs",
            &[format!("log-group:/aws/lambda/{env}*"), format!("log-group:/aws/apigateway/{prefix}*")],
        )),
        Statement::allow(&[
            "logs:DescribeLogGroups",
            "logs:PutQueryDefinition",
            "logs:DeleteQueryDefinition",
            "logs:DescribeQueryDefinitions",
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
        ])
        .sid("LogsWithoutResource")
        .resources(["*"]),
        Statement::allow(&[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:ListTagsForResource",
        ])
        .sid("Alarms")
        .resources(arns(account, "cloudwatch", &[format!("alarm:{env}*"), format!("alarm:{prefix}*")])),
        Statement::allow(&["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"])
            .sid("Dashboard")
            .resources(vec![
                Expr::lit("arn:")
                    + account.partition.partition()
                    + ":cloudwatch::"
                    + account.id()
                    + format!(":dashboard/{prefix}*"),
            ]),
        Statement::allow(&["kms:CreateKey", "kms:ListAliases"]).sid("KeysWithoutResource").resources(["*"]),
        Statement::allow(&[
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:PutKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:EnableKeyRotation",
            "kms:ListResourceTags",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:UpdateKeyDescription",
            "kms:ScheduleKeyDeletion",
            "kms:GetPublicKey",
            "kms:CreateAlias",
            "kms:DeleteAlias",
            "kms:UpdateAlias",
        ])
        .sid("Keys")
        .resources(arns(account, "kms", &["key/*".into(), format!("alias/{prefix}*")])),
        Statement::allow(&[
            "sqs:CreateQueue",
            "sqs:DeleteQueue",
            "sqs:GetQueueAttributes",
            "sqs:SetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:TagQueue",
            "sqs:UntagQueue",
            "sqs:ListQueueTags",
        ])
        .sid("Queues")
        .resources(arns(account, "sqs", &[format!("{env}*")])),
        Statement::allow(&[
            "scheduler:CreateSchedule",
            "scheduler:GetSchedule",
            "scheduler:UpdateSchedule",
            "scheduler:DeleteSchedule",
            "scheduler:CreateScheduleGroup",
            "scheduler:GetScheduleGroup",
            "scheduler:DeleteScheduleGroup",
            "scheduler:TagResource",
            "scheduler:UntagResource",
            "scheduler:ListTagsForResource",
        ])
        .sid("Schedules")
        .resources(arns(
            account,
            "scheduler",
            &[format!("schedule/{}/*", schedule_group(account)), format!("schedule-group/{}", schedule_group(account))],
        )),
        Statement::allow(&[
            "secretsmanager:CreateSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
            "secretsmanager:GetResourcePolicy",
            "secretsmanager:PutResourcePolicy",
            "secretsmanager:DeleteResourcePolicy",
        ])
        .sid("SecretsNeverTheirValues")
        .resources(arns(account, "secretsmanager", &[format!("secret:{prefix}*")])),
        Statement::allow(&[
            "sns:CreateTopic",
            "sns:DeleteTopic",
            "sns:GetTopicAttributes",
            "sns:SetTopicAttributes",
            "sns:TagResource",
            "sns:UntagResource",
            "sns:ListTagsForResource",
            "sns:Subscribe",
            "sns:Unsubscribe",
            "sns:GetSubscriptionAttributes",
            "sns:SetSubscriptionAttributes",
        ])
        .sid("AlarmTopic")
        .resources(arns(account, "sns", &[format!("{prefix}*")])),
        Statement::allow(&[
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:ListBucket",
            "s3:GetBucket*",
            "s3:PutBucket*",
            "s3:DeleteBucketPolicy",
            "s3:GetLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:GetEncryptionConfiguration",
            "s3:PutEncryptionConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:GetAccelerateConfiguration",
        ])
        .sid("Buckets")
        .resources(buckets),
        Statement::allow(&[
            "signer:PutSigningProfile",
            "signer:GetSigningProfile",
            "signer:CancelSigningProfile",
            "signer:TagResource",
            "signer:UntagResource",
            "signer:ListTagsForResource",
        ])
        .sid("SigningProfile")
        .resources(arns(
            account,
            "signer",
            &[format!("/signing-profiles/{}_*", account.settings.name_prefix.replace('-', "_"))],
        )),
        Statement::allow(&["signer:GetSigningPlatform", "codedeploy:GetDeploymentConfig"])
            .sid("PredefinedByAws")
            .resources(["*"]),
        Statement::allow(&["signer:StartSigningJob"]).sid("SignPackages").resources(arns(
            account,
            "signer",
            &[format!("/signing-profiles/{}_*", account.settings.name_prefix.replace('-', "_"))],
        )),
        Statement::allow(&["signer:DescribeSigningJob"]).sid("SigningJobs").resources(arns(
            account,
            "signer",
            &["/signing-jobs/*".into()],
        )),
        Statement::allow(&[
            "s3:PutObject",
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetObjectTagging",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
        ])
        .sid("PackagesInTheArtifactsBucket")
        .resources(vec![artifacts(account)]),
        Statement::allow(&[
            "codedeploy:CreateApplication",
            "codedeploy:GetApplication",
            "codedeploy:DeleteApplication",
            "codedeploy:TagResource",
            "codedeploy:UntagResource",
            "codedeploy:ListTagsForResource",
            "codedeploy:RegisterApplicationRevision",
            "codedeploy:GetApplicationRevision",
        ])
        .sid("DeployApplication")
        .resources(arns(account, "codedeploy", &[format!("application:{prefix}lambda")])),
        Statement::allow(&[
            "codedeploy:CreateDeploymentGroup",
            "codedeploy:GetDeploymentGroup",
            "codedeploy:UpdateDeploymentGroup",
            "codedeploy:DeleteDeploymentGroup",
            "codedeploy:CreateDeployment",
            "codedeploy:GetDeployment",
            "codedeploy:StopDeployment",
            "codedeploy:ListDeployments",
        ])
        .sid("Releases")
        .resources(arns(account, "codedeploy", &[format!("deploymentgroup:{prefix}lambda/*")])),
    ]
}

fn plan_statements(account: &Account) -> Vec<Statement> {
    let (env, prefix) = names(account);
    let region = account.settings.region;
    vec![
        Statement::allow(&["s3:ListBucket"]).sid("StateBucket").resources(vec![state_bucket(account)]),
        Statement::allow(&["s3:GetObject"]).sid("State").resources(state_objects(account, &["platform/*"])),
        // `use_lockfile`: a plan takes the state's lock, an object beside it.
        Statement::allow(&["s3:PutObject", "s3:DeleteObject"])
            .sid("StateLock")
            .resources(state_objects(account, &["platform/terraform.tfstate.tflock"])),
        Statement::allow(&[
            "lambda:GetFunction*",
            "lambda:ListVersionsByFunction",
            "lambda:GetRuntimeManagementConfig",
            "lambda:GetAlias",
            "lambda:GetPolicy",
            "lambda:ListTags",
        ])
        .sid("Functions")
        .resources(arns(account, "lambda", &[format!("function:{env}*"), format!("function:{env}*:*")])),
        Statement::allow(&["lambda:GetEventSourceMapping", "lambda:GetCodeSigningConfig"])
            .sid("LambdaConfig")
            .resources(arns(account, "lambda", &["event-source-mapping:*".into(), "code-signing-config:*".into()])),
        Statement::allow(&["lambda:ListEventSourceMappings"]).sid("LambdaWithoutResource").resources(["*"]),
        Statement::allow(&["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"])
            .sid("Roles")
            .resources(vec![iam_arn(account, &format!("role/{env}*"))]),
        Statement::allow(&["apigateway:GET"]).sid("HttpApi").resources(vec![
            Expr::lit("arn:") + account.partition.partition() + format!(":apigateway:{region}::/apis"),
            Expr::lit("arn:") + account.partition.partition() + format!(":apigateway:{region}::/apis/*"),
            Expr::lit("arn:") + account.partition.partition() + format!(":apigateway:{region}::/tags/*"),
        ]),
        Statement::allow(&["logs:ListTagsForResource", "logs:ListTagsLogGroup"]).sid("LogGroups").resources(arns(
            account,
            "logs",
            &[format!("log-group:/aws/lambda/{env}*"), format!("log-group:/aws/apigateway/{prefix}*")],
        )),
        Statement::allow(&["logs:DescribeLogGroups", "logs:DescribeQueryDefinitions", "logs:DescribeResourcePolicies"])
            .sid("LogsWithoutResource")
            .resources(["*"]),
        Statement::allow(&["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"])
            .sid("Alarms")
            .resources(arns(account, "cloudwatch", &[format!("alarm:{env}*"), format!("alarm:{prefix}*")])),
        Statement::allow(&["cloudwatch:GetDashboard"]).sid("Dashboard").resources(vec![
            Expr::lit("arn:")
                + account.partition.partition()
                + ":cloudwatch::"
                + account.id()
                + format!(":dashboard/{prefix}*"),
        ]),
        Statement::allow(&["kms:ListAliases"]).sid("KeysWithoutResource").resources(["*"]),
        Statement::allow(&[
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:ListResourceTags",
            "kms:GetPublicKey",
        ])
        .sid("Keys")
        .resources(arns(account, "kms", &["key/*".into(), format!("alias/{prefix}*")])),
        Statement::allow(&["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags"])
            .sid("Queues")
            .resources(arns(account, "sqs", &[format!("{env}*")])),
        Statement::allow(&["scheduler:GetSchedule", "scheduler:GetScheduleGroup", "scheduler:ListTagsForResource"])
            .sid("Schedules")
            .resources(arns(
                account,
                "scheduler",
                &[
                    format!("schedule/{}/*", account.settings.name_prefix),
                    format!("schedule-group/{}", account.settings.name_prefix),
                ],
            )),
        Statement::allow(&["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"])
            .sid("SecretsNeverTheirValues")
            .resources(arns(account, "secretsmanager", &[format!("secret:{prefix}*")])),
        Statement::allow(&["sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:GetSubscriptionAttributes"])
            .sid("AlarmTopic")
            .resources(arns(account, "sns", &[format!("{prefix}*")])),
        Statement::allow(&[
            "s3:ListBucket",
            "s3:GetBucket*",
            "s3:GetLifecycleConfiguration",
            "s3:GetEncryptionConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:GetAccelerateConfiguration",
        ])
        .sid("Buckets")
        .resources(vec![Expr::lit("arn:") + account.partition.partition() + format!(":s3:::{prefix}*")]),
        Statement::allow(&["signer:GetSigningProfile", "signer:ListTagsForResource"]).sid("SigningProfile").resources(
            arns(
                account,
                "signer",
                &[format!("/signing-profiles/{}_*", account.settings.name_prefix.replace('-', "_"))],
            ),
        ),
        Statement::allow(&["signer:GetSigningPlatform", "codedeploy:GetDeploymentConfig"])
            .sid("PredefinedByAws")
            .resources(["*"]),
        Statement::allow(&["signer:DescribeSigningJob"]).sid("SigningJobs").resources(arns(
            account,
            "signer",
            &["/signing-jobs/*".into()],
        )),
        Statement::allow(&["s3:GetObject", "s3:GetObjectTagging"])
            .sid("PackagesInTheArtifactsBucket")
            .resources(vec![artifacts(account)]),
        Statement::allow(&[
            "codedeploy:GetApplication",
            "codedeploy:ListTagsForResource",
            "codedeploy:GetDeploymentGroup",
        ])
        .sid("Releases")
        .resources(arns(
            account,
            "codedeploy",
            &[format!("application:{prefix}lambda"), format!("deploymentgroup:{prefix}lambda/*")],
        )),
    ]
}
