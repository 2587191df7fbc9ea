//! The provider half of `cargo xtask codegen`: typed Rust for `hashicorp/aws` resources and data sources, generated
//! from the provider's own schema (`terraform providers schema -json` against the offline mirror).
//!
//! For each type, one module file: the block as a struct (required arguments and required nested blocks in `new`,
//! optional ones as setters; strings, numbers, bools, lists, sets and maps typed, each accepting a literal or an
//! expression of its type), one struct per nested block type with its nesting mode (a block that occurs at most
//! once is a struct, a repeated one `Blocks`), typed references for every attribute on `Ref<T>`, `#[deprecated]`
//! where the schema says so, the schema's descriptions as doc comments, and the schema itself as static data for
//! the synth-time check. This file turns a schema into text; choosing which types to write and where is
//! `codegen`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `terraform providers schema -json`, the parts read here.
#[derive(Debug, Deserialize)]
pub struct ProviderSchemas {
    pub provider_schemas: BTreeMap<String, ProviderSchema>,
}

#[derive(Debug, Deserialize)]
pub struct ProviderSchema {
    pub provider: TypeSchema,
    #[serde(default)]
    pub resource_schemas: BTreeMap<String, TypeSchema>,
    #[serde(default)]
    pub data_source_schemas: BTreeMap<String, TypeSchema>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TypeSchema {
    #[serde(default)]
    pub version: u64,
    pub block: BlockSchema,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BlockSchema {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeSchema>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub block_types: BTreeMap<String, NestedBlockSchema>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct AttributeSchema {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub computed: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct NestedBlockSchema {
    pub nesting_mode: String,
    pub block: BlockSchema,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_items: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_items: u64,
}

/// Resource or data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Resource,
    Data,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Resource => "resource",
            Kind::Data => "data",
        }
    }
}

/// The Rust module name of a type: `aws_lambda_function` → `lambda_function`.
pub fn module_name(tf_type: &str) -> String {
    ident(tf_type.strip_prefix("aws_").unwrap_or(tf_type))
}

/// The Rust type name of a type: `aws_lambda_function` → `LambdaFunction`.
pub fn type_name(tf_type: &str) -> String {
    pascal(tf_type.strip_prefix("aws_").unwrap_or(tf_type))
}

fn pascal(snake: &str) -> String {
    let mut out = String::new();
    for part in snake.split(['_', '-']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// Rust keywords, which become raw identifiers (`r#type`).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn", "else", "enum",
    "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move",
    "mut", "override", "priv", "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers, which get a trailing underscore.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate"];

/// A field or method name for a schema name.
pub fn ident(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// Methods every `Ref<T>` has; an attribute of the same name gets its getter with a trailing underscore.
const REF_METHODS: &[&str] = &["address", "attr"];

/// Methods every generated block has besides its setters.
const BLOCK_METHODS: &[&str] = &["new"];

/// A schema type (cty) as the Rust type an argument takes, and the static schema expression.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ty {
    rust: String,
    schema: String,
    /// How a reference of this type is built from `Ref::attr`'s `Expr`.
    from_expr: String,
    words: String,
}

fn ty(v: &Value) -> Ty {
    let prim = |rust: &str, schema: &str, wrap: &str, words: &str| Ty {
        rust: rust.into(),
        schema: schema.into(),
        from_expr: wrap.into(),
        words: words.into(),
    };
    match v {
        Value::String(s) if s == "string" => prim("Expr", "Type::String", "{}", "string"),
        Value::String(s) if s == "number" => prim("Num", "Type::Number", "Num::Expr({})", "number"),
        Value::String(s) if s == "bool" => prim("Bool", "Type::Bool", "Bool::Expr({})", "bool"),
        Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.get(1)) {
            (Some(kind @ ("list" | "set" | "map")), Some(inner)) => {
                let inner = ty(inner);
                let (rust, schema, words) = match kind {
                    "list" => (format!("List<{}>", inner.rust), format!("Type::List(&{})", inner.schema), "list"),
                    "set" => (format!("List<{}>", inner.rust), format!("Type::Set(&{})", inner.schema), "set"),
                    _ => (format!("Map<{}>", inner.rust), format!("Type::Map(&{})", inner.schema), "map"),
                };
                let wrap = if kind == "map" { "Map::Expr({})" } else { "List::Expr({})" };
                Ty { rust, schema, from_expr: wrap.into(), words: format!("{words} of {}", inner.words) }
            }
            (Some("object"), Some(Value::Object(fields))) => {
                let fields: Vec<String> = fields.iter().map(|(k, v)| format!("({k:?}, {})", ty(v).schema)).collect();
                prim("Any", &format!("Type::Object(&[{}])", fields.join(", ")), "Any::from({})", "object")
            }
            (Some("tuple"), Some(Value::Array(items))) => {
                let items: Vec<String> = items.iter().map(|v| ty(v).schema).collect();
                prim("Any", &format!("Type::Tuple(&[{}])", items.join(", ")), "Any::from({})", "tuple")
            }
            _ => prim("Any", "Type::Dynamic", "Any::from({})", "any type"),
        },
        _ => prim("Any", "Type::Dynamic", "Any::from({})", "any type"),
    }
}

/// Doc-comment lines for a schema description (none when there is none).
fn doc(out: &mut String, indent: &str, text: &str) {
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {}", linked_urls(line));
        }
    }
}

/// A description line with each bare URL in angle brackets, so rustdoc renders it as the link it is.
fn linked_urls(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = ["https://", "http://"].iter().filter_map(|p| rest.find(p)).min() {
        let before = &rest[..at];
        let tail = &rest[at..];
        let len = tail.find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '`' | '"')).unwrap_or(tail.len());
        // Punctuation that ends the sentence or closes a parenthesis belongs to the text, not the URL.
        let url = tail[..len].trim_end_matches(['.', ',', ')', ';', ':']);
        let quoted = before.ends_with('<') || before.ends_with('`');
        out.push_str(before);
        if quoted || url.is_empty() {
            out.push_str(&tail[..len]);
        } else {
            out.push('<');
            out.push_str(url);
            out.push('>');
            out.push_str(&tail[url.len()..len]);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

fn deprecated(out: &mut String, indent: &str, what: &str, description: Option<&str>, version: &str) {
    let note = match description.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => d.replace('\n', " "),
        None => format!("{what} is deprecated in the hashicorp/aws {version} provider schema"),
    };
    let _ = writeln!(out, "{indent}#[deprecated(note = {note:?})]");
}

/// One field of a generated struct: an attribute or a nested block.
#[derive(Debug)]
struct Field {
    name: String,
    ident: String,
    rust: String,
    required: bool,
    settable: bool,
    doc: String,
    deprecated: Option<Option<String>>,
    /// `Some(..)` for a nested block: `into` means the setter takes `impl Into<Blocks<T>>`.
    block: Option<BlockField>,
}

#[derive(Debug)]
struct BlockField {
    repeated: bool,
}

/// Names every generated module imports, which no generated struct may take.
const IMPORTED: &[&str] = &[
    "Any",
    "Attribute",
    "Block",
    "Blocks",
    "Bool",
    "DataSource",
    "Expr",
    "List",
    "Map",
    "Meta",
    "NestedBlock",
    "Nesting",
    "Num",
    "Ref",
    "Resource",
    "Schema",
    "Serialize",
    "Type",
    "Option",
    "Vec",
    "String",
    "Some",
    "None",
    "Self",
];

/// Struct names already taken in one type's module, for nested blocks whose path names would collide.
#[derive(Debug)]
struct Names(BTreeSet<String>);

impl Default for Names {
    fn default() -> Self {
        Names(IMPORTED.iter().map(|n| (*n).to_owned()).collect())
    }
}

impl Names {
    fn claim(&mut self, wanted: String) -> String {
        let mut name = wanted.clone();
        let mut n = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{wanted}{n}");
            n += 1;
        }
        name
    }
}

/// Context of one generated module.
struct Gen<'a> {
    version: &'a str,
    tf_type: &'a str,
    out: String,
    names: Names,
    /// Each distinct nested block shape (its schema as canonical JSON) and the struct generated for it: a shape
    /// that recurs (QuickSight's `column`, WAF's `statement`) is one struct, used wherever it occurs.
    shapes: BTreeMap<String, String>,
    /// Emit each struct's schema as a static (for blocks; the provider block is not checked).
    statics: bool,
}

/// A block schema as canonical text (maps are ordered), for telling shapes apart.
fn shape_key(block: &BlockSchema) -> String {
    serde_json::to_string(block).unwrap_or_default()
}

/// `MetricQueryMetric` → `METRIC_QUERY_METRIC_SCHEMA`.
fn schema_static(struct_name: &str) -> String {
    let mut out = String::new();
    for (i, c) in struct_name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out.push_str("_SCHEMA");
    out
}

fn nesting(mode: &str) -> &'static str {
    match mode {
        "single" => "Nesting::Single",
        "set" => "Nesting::Set",
        "map" => "Nesting::Map",
        "group" => "Nesting::Group",
        _ => "Nesting::List",
    }
}

impl Gen<'_> {
    /// The fields of a block, attributes and nested blocks merged in name order; nested block structs are
    /// generated as a side effect.
    fn fields(&mut self, block: &BlockSchema, path: &str) -> Vec<Field> {
        let mut fields = Vec::new();
        // Computed-only attributes are no fields (nothing can set them); their getters are on `Ref<T>`.
        for (name, a) in block.attributes.iter().filter(|(_, a)| a.required || a.optional) {
            let t = a.ty.as_ref().map(ty).unwrap_or_else(|| ty(&Value::Null));
            let mode = match (a.required, a.optional, a.computed) {
                (true, _, _) => "required",
                (_, true, true) => "optional, computed when not set",
                (_, true, false) => "optional",
                _ => "computed",
            };
            let mut d = format!("`{name}`: {}, {mode}{}.", t.words, if a.sensitive { ", sensitive" } else { "" });
            if let Some(desc) = a.description.as_deref().filter(|s| !s.trim().is_empty()) {
                d = format!("{d}\n\n{}", desc.trim());
            }
            fields.push(Field {
                name: name.clone(),
                ident: ident(name),
                rust: t.rust,
                required: a.required,
                settable: a.required || a.optional,
                doc: d,
                deprecated: a.deprecated.then(|| a.description.clone()),
                block: None,
            });
        }
        for (name, b) in &block.block_types {
            let child_path = if path.is_empty() { name.clone() } else { format!("{path}_{name}") };
            let key = shape_key(&b.block);
            let struct_name = match self.shapes.get(&key) {
                Some(existing) => existing.clone(),
                None => {
                    // The block's own name when free, else its path from the type.
                    let mut wanted = pascal(name);
                    if self.names.0.contains(&wanted) {
                        wanted = pascal(&child_path);
                    }
                    let struct_name = self.names.claim(wanted);
                    self.shapes.insert(key, struct_name.clone());
                    self.block_struct(&struct_name, &child_path, name, b);
                    struct_name
                }
            };
            let repeated = !(b.nesting_mode == "single" || b.max_items == 1);
            let rust = if repeated { format!("Blocks<{struct_name}>") } else { struct_name.clone() };
            let count = match (b.min_items, b.max_items) {
                (0, 0) => "any number".to_owned(),
                (0, 1) | (_, 1) if b.nesting_mode == "single" => "one".to_owned(),
                (0, max) => format!("at most {max}"),
                (min, 0) => format!("at least {min}"),
                (min, max) if min == max => format!("exactly {min}"),
                (min, max) => format!("{min} to {max}"),
            };
            fields.push(Field {
                name: name.clone(),
                ident: ident(name),
                rust,
                required: b.min_items >= 1,
                settable: true,
                doc: format!("`{name}` blocks ({} nesting, {count}).", b.nesting_mode),
                deprecated: b.block.deprecated.then(|| b.block.description.clone()),
                block: Some(BlockField { repeated }),
            });
        }
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        for f in &mut fields {
            if BLOCK_METHODS.contains(&f.ident.as_str()) {
                f.ident = format!("{}_", f.ident);
            }
        }
        fields
    }

    /// The argument type of a field in `new` or a setter.
    fn arg(f: &Field) -> String {
        match &f.block {
            Some(BlockField { repeated: true }) => format!("impl Into<{}>", f.rust),
            Some(_) => f.rust.clone(),
            None => format!("impl Into<{}>", f.rust),
        }
    }

    fn field_decl(out: &mut String, f: &Field) {
        if f.required {
            let _ = writeln!(out, "    {}: {},", f.ident, f.rust);
        } else {
            let _ = writeln!(out, "    #[serde(skip_serializing_if = \"Option::is_none\")]");
            let _ = writeln!(out, "    {}: Option<{}>,", f.ident, f.rust);
        }
    }

    fn init(f: &Field) -> String {
        match (&f.block, f.required) {
            (Some(BlockField { repeated: false }), true) => f.ident.clone(),
            (_, true) => format!("{}: {}.into()", f.ident, f.ident),
            (_, false) => format!("{}: None", f.ident),
        }
    }

    fn setters(&self, out: &mut String, fields: &[Field]) {
        for f in fields.iter().filter(|f| f.settable && !f.required) {
            doc(out, "    ", &f.doc);
            if let Some(desc) = &f.deprecated {
                deprecated(out, "    ", &format!("`{}`", f.name), desc.as_deref(), self.version);
            }
            let value = if matches!(f.block, Some(BlockField { repeated: false })) { "value" } else { "value.into()" };
            let _ = writeln!(
                out,
                "    pub fn {}(mut self, value: {}) -> Self {{\n        self.{} = Some({value});\n        self\n    }}\n",
                f.ident,
                Self::arg(f),
                f.ident
            );
        }
    }

    /// A nested block's struct, its constructor and setters.
    fn block_struct(&mut self, struct_name: &str, path: &str, name: &str, b: &NestedBlockSchema) {
        let fields = self.fields(&b.block, path);
        let mut out = String::new();
        let _ = writeln!(out, "/// One `{name}` block of `{}`.", self.tf_type);
        if let Some(desc) = b.block.description.as_deref().filter(|d| !d.trim().is_empty()) {
            out.push_str("///\n");
            doc(&mut out, "", desc);
        }
        let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
        let default = if required.is_empty() { ", Default" } else { "" };
        let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq, Serialize{default})]");
        let _ = writeln!(out, "pub struct {struct_name} {{");
        for f in &fields {
            Self::field_decl(&mut out, f);
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "impl {struct_name} {{");
        let _ = writeln!(out, "    /// {}", new_doc(&required));
        let params: Vec<String> = required.iter().map(|f| format!("{}: {}", f.ident, Self::arg(f))).collect();
        let inits: Vec<String> = fields.iter().map(Self::init).collect();
        if params.len() > 7 {
            out.push_str("    #[allow(clippy::too_many_arguments, reason = \"one argument per required argument of the schema\")]\n");
        }
        let _ = writeln!(
            out,
            "    pub fn new({}) -> Self {{\n        {struct_name} {{ {} }}\n    }}\n",
            params.join(", "),
            inits.join(", ")
        );
        self.setters(&mut out, &fields);
        out.push_str("}\n\n");
        if self.statics {
            let _ = writeln!(out, "static {}: Schema = {};\n", schema_static(struct_name), self.schema_expr(&b.block));
        }
        // Nested structs come after their parent in the file (`fields` wrote the children first).
        self.out.push_str(&out);
    }
}

/// What `new` takes: the required arguments and blocks, in name order.
fn new_doc(required: &[&Field]) -> String {
    match required {
        [] => "A block; it has no required arguments.".to_owned(),
        _ => format!(
            "A block with its required arguments and blocks, in name order: {}.",
            required.iter().map(|f| format!("`{}`", f.name)).collect::<Vec<_>>().join(", ")
        ),
    }
}

impl Gen<'_> {
    /// The static schema expression of a block (`schema::Block { … }`), for the synth-time check; nested blocks refer
    /// to the statics of their shapes' structs.
    fn schema_expr(&self, block: &BlockSchema) -> String {
        let attrs: Vec<String> = block
            .attributes
            .iter()
            .map(|(name, a)| {
                let t = a.ty.as_ref().map(ty).unwrap_or_else(|| ty(&Value::Null));
                format!(
                    "Attribute {{ name: {name:?}, ty: {}, required: {}, optional: {}, computed: {}, deprecated: {} }}",
                    t.schema, a.required, a.optional, a.computed, a.deprecated
                )
            })
            .collect();
        let blocks: Vec<String> = block
            .block_types
            .iter()
            .map(|(name, b)| {
                format!(
                    "NestedBlock {{ name: {name:?}, nesting: {}, min_items: {}, max_items: {}, block: &{} }}",
                    nesting(&b.nesting_mode),
                    b.min_items,
                    b.max_items,
                    self.shapes.get(&shape_key(&b.block)).map(|s| schema_static(s)).unwrap_or_default()
                )
            })
            .collect();
        format!("Schema {{ attributes: &[{}], blocks: &[{}] }}", attrs.join(", "), blocks.join(", "))
    }
}

/// The module file of one resource or data source type.
pub fn type_module(kind: Kind, tf_type: &str, schema: &TypeSchema, version: &str) -> String {
    let name = type_name(tf_type);
    let mut g =
        Gen { version, tf_type, out: String::new(), names: Names::default(), shapes: BTreeMap::new(), statics: true };
    g.names.0.insert(name.clone());
    let fields = g.fields(&schema.block, "");
    let nested = std::mem::take(&mut g.out);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! `{tf_type}`, a {} of hashicorp/aws {version}. Generated by `cargo xtask codegen` from the provider schema: do not edit.",
        kind.word()
    );
    if let Some(desc) = schema.block.description.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str("//!\n");
        for line in desc.trim().lines() {
            let _ = writeln!(out, "//! {}", line.trim_end());
        }
    }
    out.push('\n');
    out.push_str("#![allow(unused_imports, reason = \"every generated module imports the whole value model\")]\n");
    out.push_str("#![allow(deprecated, reason = \"the module defines the deprecated items it refers to\")]\n");
    out.push_str("#![allow(clippy::wrong_self_convention, reason = \"setter names are the provider's argument names (to_port, from_port, is_…)\")]\n");
    out.push_str("#![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items, reason = \"descriptions are the provider schema's text\")]\n\n");
    out.push_str("use serde::Serialize;\n\n");
    out.push_str("use crate::schema::{Attribute, Block as Schema, NestedBlock, Nesting, Type};\n");
    out.push_str("use crate::value::{Any, Blocks, Bool, List, Map, Num};\n");
    let trait_name = if kind == Kind::Resource { "Resource" } else { "DataSource" };
    let _ = writeln!(out, "use crate::{{Block, Expr, Meta, Ref, {trait_name}}};\n");

    let _ = writeln!(out, "/// `{tf_type}`.");
    if schema.block.deprecated {
        deprecated(&mut out, "", &format!("`{tf_type}`"), schema.block.description.as_deref(), version);
    }
    out.push_str("#[derive(Debug, Clone, PartialEq, Serialize)]\n");
    let _ = writeln!(out, "pub struct {name} {{");
    out.push_str("    #[serde(skip)]\n    local_name: String,\n");
    for f in &fields {
        Gen::field_decl(&mut out, f);
    }
    out.push_str("    #[serde(flatten)]\n    meta: Meta,\n}\n\n");

    let required: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
    let _ = writeln!(out, "impl {name} {{");
    let _ = writeln!(
        out,
        "    /// {}",
        new_doc(&required).replacen("A block with its", "A block with the given local name and its", 1).replacen(
            "A block;",
            "A block with the given local name;",
            1
        )
    );
    let mut params = vec!["local_name: impl Into<String>".to_owned()];
    params.extend(required.iter().map(|f| format!("{}: {}", f.ident, Gen::arg(f))));
    if params.len() > 7 {
        out.push_str(
            "    #[allow(clippy::too_many_arguments, reason = \"one argument per required argument of the schema\")]\n",
        );
    }
    let mut inits = vec!["local_name: local_name.into()".to_owned()];
    inits.extend(fields.iter().map(Gen::init));
    inits.push("meta: Meta::default()".into());
    let _ = writeln!(
        out,
        "    pub fn new({}) -> Self {{\n        {name} {{ {} }}\n    }}\n",
        params.join(", "),
        inits.join(", ")
    );
    g.setters(&mut out, &fields);
    out.push_str("}\n\n");

    let _ = writeln!(out, "impl Block for {name} {{");
    let _ = writeln!(out, "    const TYPE: &'static str = {tf_type:?};");
    out.push_str("    const SCHEMA: &'static Schema = &SCHEMA;\n");
    out.push_str("    fn name(&self) -> &str {\n        &self.local_name\n    }\n");
    out.push_str("    fn meta_mut(&mut self) -> &mut Meta {\n        &mut self.meta\n    }\n}\n\n");
    let _ = writeln!(out, "impl {trait_name} for {name} {{}}\n");

    let _ = writeln!(out, "impl Ref<{name}> {{");
    for (attr, a) in &schema.block.attributes {
        let t = a.ty.as_ref().map(ty).unwrap_or_else(|| ty(&Value::Null));
        let mut getter = ident(attr);
        if REF_METHODS.contains(&getter.as_str()) {
            getter = format!("{getter}_");
        }
        let _ = writeln!(out, "    /// `${{{tf_type}.<name>.{attr}}}`: {}.", t.words);
        if a.deprecated {
            deprecated(&mut out, "    ", &format!("`{attr}`"), a.description.as_deref(), version);
        }
        let expr = format!("self.attr({attr:?})");
        let _ = writeln!(
            out,
            "    pub fn {getter}(&self) -> {} {{\n        {}\n    }}\n",
            t.rust,
            t.from_expr.replace("{}", &expr)
        );
    }
    out.push_str("}\n\n");

    out.push_str(&nested);
    let _ = writeln!(out, "static SCHEMA: Schema = {};", g.schema_expr(&schema.block));
    out
}

/// The provider block (`provider "aws" { … }`) as a struct, for [`crate::codegen`]'s `aws/provider.rs`.
pub fn provider_module(schema: &TypeSchema, version: &str) -> String {
    let mut g = Gen {
        version,
        tf_type: "aws",
        out: String::new(),
        names: Names::default(),
        shapes: BTreeMap::new(),
        statics: false,
    };
    g.names.0.insert("Provider".into());
    let block =
        NestedBlockSchema { nesting_mode: "single".into(), block: schema.block.clone(), min_items: 0, max_items: 0 };
    g.block_struct("Provider", "", "provider", &block);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! The `aws` provider block of hashicorp/aws {version}. Generated by `cargo xtask codegen` from the provider schema: do not edit.\n"
    );
    out.push_str("#![allow(unused_imports, reason = \"every generated module imports the whole value model\")]\n");
    out.push_str("#![allow(deprecated, reason = \"the module defines the deprecated items it refers to\")]\n");
    out.push_str("#![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items, reason = \"descriptions are the provider schema's text\")]\n\n");
    out.push_str(
        "use serde::Serialize;\n\nuse crate::value::{Any, Blocks, Bool, List, Map, Num};\nuse crate::Expr;\n\n",
    );
    out.push_str(&g.out);
    out
}

/// `aws/mod.rs` (or `aws/data/mod.rs`): one module per type and the types re-exported by name.
pub fn mod_file(kind: Kind, types: &[&str], version: &str) -> String {
    let mut out = String::new();
    match kind {
        Kind::Resource => {
            let _ = writeln!(
                out,
                "//! Typed resources of hashicorp/aws {version}, one module per type, for the types `stacks/aws-types.txt` lists. Generated by `cargo xtask codegen` from the provider schema: do not edit.\n//!\n//! Add a type: one line in `stacks/aws-types.txt`, then `cargo xtask codegen`.\n"
            );
            out.push_str("pub mod data;\npub mod provider;\n\n");
        }
        Kind::Data => {
            let _ = writeln!(
                out,
                "//! Typed data sources of hashicorp/aws {version}, one module per type, for the types `stacks/aws-types.txt` lists. Generated by `cargo xtask codegen` from the provider schema: do not edit.\n"
            );
        }
    }
    for t in types {
        let _ = writeln!(out, "pub mod {};", module_name(t));
    }
    out.push('\n');
    for t in types {
        let _ = writeln!(out, "pub use {}::{};", module_name(t), type_name(t));
    }
    if kind == Kind::Resource {
        out.push_str("pub use provider::Provider;\n");
    }
    out
}

/// The Rust expression that builds a block of type `tf_type` (in module `path`, e.g. `infra_dsl::aws::x`) named
/// `local`, with every required argument the unknown value `var.<variable>` and every required nested block built
/// the same way: what the coverage check synthesizes for each type.
pub fn example(kind: Kind, tf_type: &str, schema: &TypeSchema, path: &str, local: &str, variable: &str) -> String {
    // The same walk as the module's generation, for the same struct names.
    let mut g = Gen {
        version: "",
        tf_type,
        out: String::new(),
        names: Names::default(),
        shapes: BTreeMap::new(),
        statics: false,
    };
    g.names.0.insert(type_name(tf_type));
    let _ = g.fields(&schema.block, "");
    let _ = kind;
    format!("{path}::{}::new({local:?}{})", type_name(tf_type), example_args(&g, &schema.block, path, variable))
}

/// `, arg, arg…` for the required arguments and blocks of `block`, in `new`'s order.
fn example_args(g: &Gen<'_>, block: &BlockSchema, path: &str, variable: &str) -> String {
    let mut args: Vec<(String, String)> = Vec::new();
    for (name, a) in block.attributes.iter().filter(|(_, a)| a.required) {
        let t = a.ty.as_ref().map(ty).unwrap_or_else(|| ty(&Value::Null));
        let head = t.rust.split('<').next().unwrap_or("Expr").to_owned();
        let value = match head.as_str() {
            "Expr" => format!("infra_dsl::Expr::raw(\"var.{variable}\")"),
            other => format!("infra_dsl::{other}::raw(\"var.{variable}\")"),
        };
        args.push((name.clone(), value));
    }
    for (name, b) in block.block_types.iter().filter(|(_, b)| b.min_items >= 1) {
        let struct_name = g.shapes.get(&shape_key(&b.block)).cloned().unwrap_or_default();
        let one = format!(
            "{path}::{struct_name}::new({})",
            example_args(g, &b.block, path, variable).trim_start_matches(", ")
        );
        let repeated = !(b.nesting_mode == "single" || b.max_items == 1);
        let value = if repeated { format!("vec![{}]", vec![one; b.min_items as usize].join(", ")) } else { one };
        args.push((name.clone(), value));
    }
    args.sort_by(|a, b| a.0.cmp(&b.0));
    args.into_iter().map(|(_, v)| format!(", {v}")).collect()
}

/// What a type uses of the schema's constructs, for choosing the fewest types that use them all.
pub fn constructs(kind: Kind, schema: &TypeSchema) -> BTreeSet<String> {
    fn signature(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.get(1)) {
                (Some(k @ ("list" | "set" | "map")), Some(inner)) => format!("{k}({})", signature(inner)),
                (Some("object"), _) => "object".into(),
                (Some("tuple"), _) => "tuple".into(),
                _ => "other".into(),
            },
            _ => "dynamic".into(),
        }
    }
    fn walk(block: &BlockSchema, depth: usize, out: &mut BTreeSet<String>) {
        for (name, a) in &block.attributes {
            let mode = match (a.required, a.optional, a.computed) {
                (true, _, _) => "required",
                (_, true, true) => "optional+computed",
                (_, true, false) => "optional",
                _ => "computed",
            };
            let t = a.ty.as_ref().map(signature).unwrap_or_else(|| "dynamic".into());
            out.insert(format!("attribute {t} {mode}"));
            if a.deprecated {
                out.insert("deprecated attribute".into());
            }
            if a.sensitive {
                out.insert("sensitive attribute".into());
            }
            if KEYWORDS.contains(&name.as_str()) || NOT_RAW.contains(&name.as_str()) {
                out.insert(format!("keyword name {name}"));
            }
        }
        for (name, b) in &block.block_types {
            let bucket = |n: u64| match n {
                0 => "0",
                1 => "1",
                _ => "n",
            };
            out.insert(format!("nesting {} min {} max {}", b.nesting_mode, bucket(b.min_items), bucket(b.max_items)));
            if b.block.deprecated {
                out.insert("deprecated block".into());
            }
            if KEYWORDS.contains(&name.as_str()) {
                out.insert(format!("keyword name {name}"));
            }
            walk(&b.block, depth + 1, out);
        }
        if depth >= 10 {
            out.insert("nesting deeper than 10".into());
        }
    }
    let mut out = BTreeSet::new();
    out.insert(format!("kind {}", kind.word()));
    walk(&schema.block, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::linked_urls;

    /// The schema's descriptions hold bare URLs, which rustdoc refuses under `-D warnings`: each becomes a link, with
    /// the sentence's punctuation left outside and URLs already quoted left alone.
    #[test]
    fn bare_urls_in_descriptions_become_links() {
        assert_eq!(
            linked_urls("i.e., https://s3.amazonaws.com/BUCKET/KEY. By default"),
            "i.e., <https://s3.amazonaws.com/BUCKET/KEY>. By default"
        );
        assert_eq!(
            linked_urls("addressing (https://BUCKET.s3.amazonaws.com/KEY). Specific"),
            "addressing (<https://BUCKET.s3.amazonaws.com/KEY>). Specific"
        );
        assert_eq!(linked_urls("see <https://x.example/a> and `http://y`"), "see <https://x.example/a> and `http://y`");
        assert_eq!(linked_urls("no link here"), "no link here");
    }
}
