//! Finds the addresses a rendered Terraform string refers to, so the stack can reject dangling references.
//!
//! It scans the *rendered* template text (not the typed model), so raw HCL written with [`crate::Expr::raw`]
//! is checked too. It is a scanner for the expressions this workspace writes, not a full HCL parser: it finds
//! traversals such as `aws_x.name.attr`, `data.aws_x.name.attr`, `var.x` and `local.x`, skips the text of
//! quoted strings inside an interpolation (but descends into their own `${...}`), and ignores `$${` escapes.

/// A reference found in a template, as the address it needs (and, for blocks, the attribute it reads when the
/// reference names one: `aws_x.y.arn` reads `arn`; `aws_x.y[0].z` names none this scanner can tell).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Needed {
    /// `type.name` of a managed resource.
    Resource(String, Option<String>),
    /// `data.type.name`.
    Data(String, Option<String>),
    /// `var.name`.
    Var(String),
    /// `local.name`.
    Local(String),
}

impl Needed {
    pub(crate) fn address(&self) -> String {
        match self {
            Needed::Resource(a, _) => a.clone(),
            Needed::Data(a, _) => format!("data.{a}"),
            Needed::Var(a) => format!("var.{a}"),
            Needed::Local(a) => format!("local.{a}"),
        }
    }
}

/// All references in a rendered template string.
pub(crate) fn scan_template(s: &str, out: &mut Vec<Needed>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1) == Some(&b'$') && b.get(i + 2) == Some(&b'{') {
            i += 3; // `$${` is an escaped literal.
        } else if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            i = scan_interp(b, i + 2, out);
        } else {
            i += 1;
        }
    }
}

/// Scans an interpolation body starting after `${`; returns the index after its closing `}`.
fn scan_interp(b: &[u8], mut i: usize, out: &mut Vec<Needed>) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => i = scan_quoted(b, i + 1, out),
            b'{' | b'(' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return i + 1,
            b'}' | b')' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.')) {
                    i += 1;
                }
                // Only the start of a traversal counts: `x.y` after a `.` is an attribute, not a root.
                let preceded_by_dot = start > 0 && b[start - 1] == b'.';
                if !preceded_by_dot {
                    classify(&b[start..i], out);
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// Skips a quoted string inside an interpolation, descending into nested `${...}`.
fn scan_quoted(b: &[u8], mut i: usize, out: &mut Vec<Needed>) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'$' if b.get(i + 1) == Some(&b'$') => i += 2,
            b'$' if b.get(i + 1) == Some(&b'{') => i = scan_interp(b, i + 2, out),
            _ => i += 1,
        }
    }
    i
}

fn classify(token: &[u8], out: &mut Vec<Needed>) {
    let Ok(token) = std::str::from_utf8(token) else { return };
    let segs: Vec<&str> = token.split('.').filter(|s| !s.is_empty()).collect();
    let attr = |i: usize| segs.get(i).map(|s| (*s).to_owned());
    match segs.as_slice() {
        ["data", ty, name, ..] => out.push(Needed::Data(format!("{ty}.{name}"), attr(3))),
        ["var", name, ..] => out.push(Needed::Var((*name).to_owned())),
        ["local", name, ..] => out.push(Needed::Local((*name).to_owned())),
        // Resource types always carry a provider prefix (`aws_…`); function names and keywords never have a
        // dot after them, and `path.module`, `each.key` … have no underscore in their first segment.
        [ty, name, ..] if ty.contains('_') && !ty.starts_with('_') => {
            out.push(Needed::Resource(format!("{ty}.{name}"), attr(2)))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        scan_template(s, &mut out);
        out.iter().map(Needed::address).collect()
    }

    #[test]
    fn finds_resource_data_var_local() {
        assert_eq!(refs("${aws_lambda_function.x.arn}"), ["aws_lambda_function.x"]);
        assert_eq!(refs("a ${data.aws_caller_identity.current.account_id} b"), ["data.aws_caller_identity.current"]);
        assert_eq!(refs("${var.region}-${local.prefix}"), ["var.region", "local.prefix"]);
    }

    #[test]
    fn skips_escapes_functions_and_quoted_text() {
        assert!(refs("$${aws_lambda_function.x.arn}").is_empty());
        assert!(refs("${path.module}/x").is_empty());
        assert_eq!(
            refs(r#"${fileexists(local.zip) ? filebase64sha256(local.zip) : null}"#),
            ["local.zip", "local.zip"]
        );
        assert!(refs(r#"${jsonencode("lambda.amazonaws.com")}"#).is_empty());
        assert_eq!(refs(r#"${file("${path.module}/${local.name}.zip")}"#), ["local.name"]);
    }

    #[test]
    fn the_attribute_a_reference_reads_is_kept() {
        let mut out = Vec::new();
        scan_template("${aws_s3_bucket.docs.arn}/* ${data.aws_partition.current.partition} ${aws_x.y[0].z}", &mut out);
        assert_eq!(
            out,
            [
                Needed::Resource("aws_s3_bucket.docs".into(), Some("arn".into())),
                Needed::Data("aws_partition.current".into(), Some("partition".into())),
                Needed::Resource("aws_x.y".into(), None),
            ]
        );
    }

    #[test]
    fn attributes_after_index_are_not_roots() {
        assert_eq!(refs("${aws_s3_bucket.docs.arn}/*"), ["aws_s3_bucket.docs"]);
        assert_eq!(refs("${aws_x.y[0].z_w.v}"), ["aws_x.y"]);
    }
}
