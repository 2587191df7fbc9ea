//! Typed IAM policy documents (Effect, Action, Resource, Condition, Principal), rendered as the JSON string that
//! `aws_iam_role.assume_role_policy` and `aws_iam_role_policy.policy` take.
//!
//! This is a model, not a linter: whether a document is least-privilege is decided by `cargo xtask check-iam`
//! over the synthesized output, so hand-written or raw policies are judged by the same rules.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{DslError, Expr, ExprList};

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// A policy principal, e.g. `Principal::service("lambda.amazonaws.com")`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Principal {
    Service(String),
    #[serde(rename = "AWS")]
    Aws(Expr),
    /// An identity provider (web identity federation, e.g. an OIDC provider's ARN).
    Federated(Expr),
}

impl Principal {
    pub fn service(name: impl Into<String>) -> Self {
        Principal::Service(name.into())
    }
}

/// One statement. Build with [`Statement::allow`] / [`Statement::deny`], then chain setters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<Principal>,
    action: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<ExprList>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    condition: BTreeMap<String, BTreeMap<String, ExprList>>,
}

impl Statement {
    fn new(effect: Effect, actions: &[&str]) -> Self {
        Statement {
            sid: None,
            effect,
            principal: None,
            action: actions.iter().map(|a| (*a).to_owned()).collect(),
            resource: None,
            condition: BTreeMap::new(),
        }
    }

    /// An `Allow` statement for the given actions, e.g. `&["logs:PutLogEvents"]`.
    pub fn allow(actions: &[&str]) -> Self {
        Self::new(Effect::Allow, actions)
    }

    /// A `Deny` statement for the given actions.
    pub fn deny(actions: &[&str]) -> Self {
        Self::new(Effect::Deny, actions)
    }

    /// A statement id; IAM allows only `[A-Za-z0-9]`.
    pub fn sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }

    /// The statement's id, when it has one.
    pub fn sid_of(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The resources the statement applies to.
    pub fn resources(mut self, resources: impl Into<ExprList>) -> Self {
        self.resource = Some(resources.into());
        self
    }

    /// The principal (trust policies only).
    pub fn principal(mut self, principal: Principal) -> Self {
        self.principal = Some(principal);
        self
    }

    /// Adds a condition, e.g. `.condition("StringEquals", "aws:SourceAccount", [account_id])`.
    pub fn condition(mut self, operator: &str, key: &str, values: impl Into<ExprList>) -> Self {
        self.condition.entry(operator.to_owned()).or_default().insert(key.to_owned(), values.into());
        self
    }
}

/// A policy document: `{"Version": "2012-10-17", "Statement": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    version: &'static str,
    statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statements: Vec<Statement>) -> Self {
        PolicyDocument { version: "2012-10-17", statement: statements }
    }

    /// The trust policy that lets one AWS service assume a role.
    pub fn assume_role(service: &str) -> Self {
        Self::new(vec![Statement::allow(&["sts:AssumeRole"]).principal(Principal::service(service))])
    }

    /// Renders the document as a Terraform string: compact JSON whose resource ARNs may be interpolations.
    ///
    /// Interpolations must be plain references (`aws_x.y.arn`): JSON escaping a quote inside `${...}` would
    /// produce invalid HCL, so such an expression is refused rather than rendered wrong.
    pub fn to_expr(&self) -> Result<Expr, DslError> {
        for statement in &self.statement {
            let exprs = statement
                .resource
                .iter()
                .flat_map(|r| r.0.iter())
                .chain(statement.condition.values().flat_map(|m| m.values()).flat_map(|l| l.0.iter()));
            for e in exprs {
                if e.interpolations().any(|i| i.contains(['"', '\\'])) {
                    return Err(DslError::NotEmbeddable { expr: e.render() });
                }
            }
        }
        let json = serde_json::to_string(self)
            .map_err(|e| DslError::Render { address: "policy document".into(), message: e.to_string() })?;
        Ok(Expr::rendered(json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn renders_statements_with_references_and_conditions() {
        let doc = PolicyDocument::new(vec![
            Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"])
                .sid("OwnLogGroup")
                .resources([Expr::raw("aws_cloudwatch_log_group.x.arn") + ":*"]),
            Statement::allow(&["secretsmanager:GetSecretValue"])
                .resources([Expr::raw("aws_secretsmanager_secret.s.arn")])
                .condition("StringEquals", "secretsmanager:VersionStage", ["AWSCURRENT"]),
        ]);
        expect![[r#""{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"OwnLogGroup\",\"Effect\":\"Allow\",\"Action\":[\"logs:CreateLogStream\",\"logs:PutLogEvents\"],\"Resource\":[\"${aws_cloudwatch_log_group.x.arn}:*\"]},{\"Effect\":\"Allow\",\"Action\":[\"secretsmanager:GetSecretValue\"],\"Resource\":[\"${aws_secretsmanager_secret.s.arn}\"],\"Condition\":{\"StringEquals\":{\"secretsmanager:VersionStage\":[\"AWSCURRENT\"]}}}]}""#]]
        .assert_eq(&serde_json::to_string(&doc.to_expr().unwrap()).unwrap());
    }

    #[test]
    fn trust_policy() {
        expect![[r#""{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":[\"sts:AssumeRole\"]}]}""#]]
        .assert_eq(&serde_json::to_string(&PolicyDocument::assume_role("lambda.amazonaws.com").to_expr().unwrap()).unwrap());
    }

    #[test]
    fn literal_dollar_brace_in_a_policy_is_escaped() {
        let doc = PolicyDocument::new(vec![
            Statement::allow(&["s3:GetObject"]).resources(["arn:aws:s3:::b/${aws:username}/*"])
        ]);
        let rendered = doc.to_expr().unwrap().render();
        assert!(rendered.contains("arn:aws:s3:::b/$${aws:username}/*"), "{rendered}");
    }

    #[test]
    fn quoted_interpolation_is_refused() {
        let doc = PolicyDocument::new(vec![
            Statement::allow(&["s3:GetObject"]).resources([Expr::raw(r#"format("%s", "x")"#)])
        ]);
        assert!(matches!(doc.to_expr(), Err(DslError::NotEmbeddable { .. })));
    }
}
