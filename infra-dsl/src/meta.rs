//! Terraform's meta-arguments, which every resource and data block takes besides its schema's arguments:
//! `depends_on` and `lifecycle` (with its custom conditions). Set through [`crate::Block`]'s methods.

use serde::Serialize;

use crate::Expr;

/// The meta-arguments of one block; rendered after its arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Meta {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lifecycle: Option<Lifecycle>,
}

/// `lifecycle { … }`, the parts this platform uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Lifecycle {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub precondition: Vec<Condition>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
    /// Refuse any plan that would destroy the resource (data that must outlive a mistaken `destroy`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    /// Arguments whose drift the plan ignores (names of the resource's own arguments; `terraform validate` refuses
    /// another). For what a remote system rewrites and nothing here controls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<&'static str>,
}

/// A custom condition: plan fails with `error_message` when `condition` is false.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub condition: Expr,
    pub error_message: String,
}
