//! Terraform string expressions: literal text, typed references and raw HCL, rendered as one JSON string.
//!
//! Terraform's JSON syntax treats every string as a template, so literal text is escaped on the way out
//! (`${` becomes `$${`, `%{` becomes `%%{`) and references become `${address.attribute}`. This module does not
//! know which addresses exist; the stack checks that when it renders.

use std::fmt;
use std::ops::Add;

use serde::{Serialize, Serializer};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text that must appear verbatim in the value; escaped when rendered.
    Lit(String),
    /// An HCL expression rendered inside `${...}`.
    Interp(String),
    /// Template text that is already escaped (used for embedded JSON documents).
    Rendered(String),
}

/// A Terraform string value: any mix of literal text and interpolated expressions.
///
/// Build literals with `Expr::from("text")`, references through typed handles (`lambda.arn()`), and anything
/// else with [`Expr::raw`]. Concatenate with `+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expr(Vec<Part>);

impl Expr {
    /// A literal string. `${` inside it is escaped, so it can never become an interpolation.
    pub fn lit(text: impl Into<String>) -> Self {
        Expr(vec![Part::Lit(text.into())])
    }

    /// A raw HCL expression, rendered as `${hcl}`; e.g. `Expr::raw("var.region")`. References inside it are
    /// still checked against the stack when it renders.
    pub fn raw(hcl: impl Into<String>) -> Self {
        Expr(vec![Part::Interp(hcl.into())])
    }

    /// Template text that is already in Terraform's escaped form. Crate-internal: only embedded documents use it.
    pub(crate) fn rendered(template: String) -> Self {
        Expr(vec![Part::Rendered(template)])
    }

    /// A JSON document as a Terraform string (a dashboard body, a policy): `value` is serialized, and every string
    /// in it is taken as template text, so references written as [`Expr`]s stay references and literal text written
    /// as `Expr::lit` is escaped. Plain strings must not contain `${` or `%{`; a template directive is refused.
    pub fn json_document(value: &impl serde::Serialize) -> Result<Expr, crate::DslError> {
        let text = serde_json::to_string(value)
            .map_err(|e| crate::DslError::Render { address: "JSON document".into(), message: e.to_string() })?;
        let bytes = text.as_bytes();
        let directive = bytes.windows(2).enumerate().any(|(i, w)| w == b"%{" && (i == 0 || bytes[i - 1] != b'%'));
        if directive {
            return Err(crate::DslError::NotEmbeddable { expr: text });
        }
        Ok(Expr::rendered(text))
    }

    /// Appends another expression.
    pub fn push(&mut self, other: impl Into<Expr>) {
        self.0.extend(other.into().0);
    }

    /// The interpolated HCL expressions, in order (for embedding checks).
    pub(crate) fn interpolations(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Interp(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// The whole value when it is literal text only: `Some("text")` for `Expr::lit("text")`.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Renders the template exactly as it will appear in the `*.tf.json` string.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => escape_into(s, &mut out),
                Part::Interp(s) => {
                    out.push_str("${");
                    out.push_str(s);
                    out.push('}');
                }
                Part::Rendered(s) => out.push_str(s),
            }
        }
        out
    }
}

/// Escapes Terraform's template introducers so literal text stays literal.
fn escape_into(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if (c == '$' || c == '%') && chars.peek() == Some(&'{') {
            out.push(c);
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.render())
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::lit(s)
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::lit(s)
    }
}

impl From<&String> for Expr {
    fn from(s: &String) -> Self {
        Expr::lit(s.as_str())
    }
}

impl From<&Expr> for Expr {
    fn from(e: &Expr) -> Self {
        e.clone()
    }
}

impl From<Expr> for serde_json::Value {
    fn from(e: Expr) -> Self {
        serde_json::Value::String(e.render())
    }
}

impl<T: Into<Expr>> Add<T> for Expr {
    type Output = Expr;
    fn add(mut self, rhs: T) -> Expr {
        self.push(rhs);
        self
    }
}

/// A list of string expressions (`layers`, `allow_origins`, …), convertible from arrays and vectors.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct ExprList(pub Vec<Expr>);

impl<T: Into<Expr>> From<Vec<T>> for ExprList {
    fn from(v: Vec<T>) -> Self {
        ExprList(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Expr>, const N: usize> From<[T; N]> for ExprList {
    fn from(v: [T; N]) -> Self {
        ExprList(v.into_iter().map(Into::into).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn check(e: Expr, expect: Expect) {
        expect.assert_eq(&serde_json::to_string(&e).unwrap());
    }

    #[test]
    fn literals_are_escaped() {
        check(Expr::lit("plain"), expect![[r#""plain""#]]);
        check(Expr::lit("cost ${x} and %{if}"), expect![[r#""cost $${x} and %%{if}""#]]);
        check(Expr::lit("$5 and 100%"), expect![[r#""$5 and 100%""#]]);
        check(Expr::lit("$$context"), expect![[r#""$$context""#]]);
    }

    #[test]
    fn references_and_concatenation() {
        let e = Expr::raw("aws_apigatewayv2_api.main.execution_arn") + "/*/*";
        check(e, expect![[r#""${aws_apigatewayv2_api.main.execution_arn}/*/*""#]]);
        let e = Expr::lit("integrations/") + Expr::raw("aws_apigatewayv2_integration.x.id");
        check(e, expect![[r#""integrations/${aws_apigatewayv2_integration.x.id}""#]]);
    }

    #[test]
    fn literal_detection() {
        assert_eq!(Expr::lit("a").as_literal().as_deref(), Some("a"));
        assert_eq!((Expr::lit("a") + "b").as_literal().as_deref(), Some("ab"));
        assert_eq!(Expr::raw("var.x").as_literal(), None);
    }
}
