//! The provider schema as static data, and the synth-time check of a block against it.
//!
//! The generated types (`crate::aws`) carry their type's schema; [`check`] walks a block's rendered JSON against it
//! and reports what Terraform would refuse later: an unknown argument, a value of the wrong type, a missing
//! required argument, a computed-only attribute that was set, too many or too few nested blocks. The generated
//! types make most of these impossible; the check catches the rest (raw expressions and JSON values, `Any`,
//! block counts) before any file is written. It knows nothing of AWS beyond the data it is given.

use serde_json::Value;

/// A block's schema: its attributes and nested block types, each sorted by name.
#[derive(Debug)]
pub struct Block {
    pub attributes: &'static [Attribute],
    pub blocks: &'static [NestedBlock],
}

/// One attribute.
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: Type,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub deprecated: bool,
}

/// A Terraform (cty) type.
#[derive(Debug)]
pub enum Type {
    String,
    Number,
    Bool,
    Dynamic,
    List(&'static Type),
    Set(&'static Type),
    Map(&'static Type),
    Object(&'static [(&'static str, Type)]),
    Tuple(&'static [Type]),
}

/// A nested block type.
#[derive(Debug)]
pub struct NestedBlock {
    pub name: &'static str,
    pub nesting: Nesting,
    /// 0 when there is no lower bound.
    pub min_items: u64,
    /// 0 when there is no upper bound.
    pub max_items: u64,
    pub block: &'static Block,
}

/// How a nested block type repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    Group,
}

impl Block {
    /// Whether `name` is an attribute or a nested block type of this block (what a reference may traverse).
    pub fn has(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name == name) || self.blocks.iter().any(|b| b.name == name)
    }
}

/// What is wrong with one argument of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the block: `environment.variables`, `rule[1].filter`.
    pub path: String,
    pub what: String,
}

/// Meta-arguments Terraform accepts in every resource and data block, besides the schema's.
const META: &[&str] = &["//", "depends_on", "lifecycle", "count", "for_each", "provider"];

/// Checks a rendered block against its schema; `top` allows the meta-arguments.
pub fn check(schema: &Block, value: &Value, top: bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_block(schema, value, "", top, &mut problems);
    problems
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn check_block(schema: &Block, value: &Value, path: &str, top: bool, out: &mut Vec<Problem>) {
    let Value::Object(map) = value else {
        out.push(Problem {
            path: path.to_owned(),
            what: format!("expected a block (a JSON object), found {}", kind(value)),
        });
        return;
    };
    for (name, v) in map {
        if top && META.contains(&name.as_str()) {
            continue;
        }
        let here = join(path, name);
        if let Some(a) = schema.attributes.iter().find(|a| a.name == name) {
            if !a.required && !a.optional {
                out.push(Problem { path: here, what: "is computed by the provider and cannot be set".into() });
            } else if !v.is_null() {
                check_value(&a.ty, v, &here, out);
            }
        } else if let Some(b) = schema.blocks.iter().find(|b| b.name == name) {
            check_nested(b, v, &here, out);
        } else {
            out.push(Problem { path: here, what: "is not an argument of this block in the provider schema".into() });
        }
    }
    for a in schema.attributes.iter().filter(|a| a.required) {
        if map.get(a.name).is_none_or(Value::is_null) {
            out.push(Problem { path: join(path, a.name), what: "is required but not set".into() });
        }
    }
    for b in schema.blocks.iter().filter(|b| b.min_items > 0) {
        if !map.contains_key(b.name) {
            out.push(Problem {
                path: join(path, b.name),
                what: format!("needs at least {} block(s), found none", b.min_items),
            });
        }
    }
}

fn check_nested(b: &NestedBlock, v: &Value, path: &str, out: &mut Vec<Problem>) {
    let blocks: Vec<&Value> = match (b.nesting, v) {
        (Nesting::Single | Nesting::Group, Value::Object(_)) => vec![v],
        (Nesting::Map, Value::Object(m)) => m.values().collect(),
        (_, Value::Object(_)) => vec![v],
        (Nesting::List | Nesting::Set, Value::Array(items)) => items.iter().collect(),
        _ => {
            out.push(Problem { path: path.to_owned(), what: format!("expected a block, found {}", kind(v)) });
            return;
        }
    };
    let n = blocks.len() as u64;
    if n < b.min_items {
        out.push(Problem {
            path: path.to_owned(),
            what: format!("needs at least {} block(s), found {n}", b.min_items),
        });
    }
    if b.max_items > 0 && n > b.max_items {
        out.push(Problem {
            path: path.to_owned(),
            what: format!("allows at most {} block(s), found {n}", b.max_items),
        });
    }
    for (i, block) in blocks.into_iter().enumerate() {
        let here = if n > 1 { format!("{path}[{i}]") } else { path.to_owned() };
        check_block(b.block, block, &here, false, out);
    }
}

/// A string that is one whole interpolation (`"${…}"`), whose type Terraform only knows at plan time.
fn is_expression(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && !s.starts_with("$${")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_value(ty: &Type, v: &Value, path: &str, out: &mut Vec<Problem>) {
    let wrong = |out: &mut Vec<Problem>, expected: &str| {
        out.push(Problem { path: path.to_owned(), what: format!("expects {expected}, found {}", kind(v)) });
    };
    match (ty, v) {
        (_, Value::Null) | (Type::Dynamic, _) => {}
        (_, Value::String(s)) if is_expression(s) => {}
        // Terraform converts between the primitive types where the text allows it.
        (Type::String, Value::String(_) | Value::Number(_) | Value::Bool(_)) => {}
        (Type::Number, Value::Number(_)) | (Type::Bool, Value::Bool(_)) => {}
        (Type::Number, Value::String(s)) if s.trim().parse::<f64>().is_ok() => {}
        (Type::Bool, Value::String(s)) if s == "true" || s == "false" => {}
        (Type::Number, _) => wrong(out, "a number"),
        (Type::Bool, _) => wrong(out, "a bool"),
        (Type::String, _) => wrong(out, "a string"),
        (Type::List(inner) | Type::Set(inner), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check_value(inner, item, &format!("{path}[{i}]"), out);
            }
        }
        (Type::List(_), _) => wrong(out, "a list"),
        (Type::Set(_), _) => wrong(out, "a set (a JSON array)"),
        (Type::Map(inner), Value::Object(m)) => {
            for (k, item) in m {
                check_value(inner, item, &format!("{path}[{k:?}]"), out);
            }
        }
        (Type::Map(_), _) => wrong(out, "a map (a JSON object)"),
        (Type::Object(fields), Value::Object(m)) => {
            for (k, item) in m {
                match fields.iter().find(|(name, _)| name == k) {
                    Some((_, t)) => check_value(t, item, &join(path, k), out),
                    None => out
                        .push(Problem { path: join(path, k), what: "is not an attribute of this object type".into() }),
                }
            }
        }
        (Type::Object(_), _) => wrong(out, "an object"),
        (Type::Tuple(types), Value::Array(items)) => {
            if types.len() != items.len() {
                out.push(Problem {
                    path: path.to_owned(),
                    what: format!("expects a tuple of {} elements, found {}", types.len(), items.len()),
                });
            }
            for (i, (t, item)) in types.iter().zip(items).enumerate() {
                check_value(t, item, &format!("{path}[{i}]"), out);
            }
        }
        (Type::Tuple(_), _) => wrong(out, "a tuple (a JSON array)"),
    }
}
