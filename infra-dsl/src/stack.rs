//! The stack: one Terraform root module, rendered as a single `*.tf.json` document.
//!
//! A stack holds the `terraform` block, providers, variables, locals, data sources, resources and outputs, in
//! ordered maps. Adding a block checks it against its type's provider schema (and remembers the line of the stack
//! code that added it, for the error); adding one with an address that is already taken is an error; rendering
//! checks that every reference resolves to a block of the stack and to an attribute its type has. Rendering is pure:
//! no clock, no environment, no file system.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::meta::{Lifecycle, Meta};
use crate::refs::{scan_template, Needed};
use crate::schema;
use crate::{DslError, Expr};

/// A Terraform block type that can be added to a stack (a managed resource or a data source). The generated types
/// (`crate::aws`) implement it; the meta-arguments are its provided methods.
pub trait Block: Serialize + Sized {
    /// The Terraform type, e.g. `aws_lambda_function`.
    const TYPE: &'static str;
    /// The type's schema in the provider, for the synth-time check.
    const SCHEMA: &'static schema::Block;
    /// The local name chosen by the stack author, e.g. `org_profiles`.
    fn name(&self) -> &str;
    /// The block's meta-arguments.
    fn meta_mut(&mut self) -> &mut Meta;

    /// Adds an explicit dependency, rendered as a bare address in `depends_on`.
    fn depends_on<T>(mut self, on: &Ref<T>) -> Self {
        self.meta_mut().depends_on.push(on.address().to_owned());
        self
    }

    /// Sets the `lifecycle` block.
    fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.meta_mut().lifecycle = Some(lifecycle);
        self
    }

    /// Sets the `lifecycle` block when there is one.
    fn lifecycle_opt(mut self, lifecycle: Option<Lifecycle>) -> Self {
        if lifecycle.is_some() {
            self.meta_mut().lifecycle = lifecycle;
        }
        self
    }
}

/// A managed resource (`resource "type" "name"`).
pub trait Resource: Block {}

/// A data source (`data "type" "name"`).
pub trait DataSource: Block {}

/// A typed handle to a block in a stack; its methods render references such as `${aws_lambda_function.x.arn}`.
#[derive(Debug)]
pub struct Ref<R> {
    address: String,
    _block: PhantomData<fn() -> R>,
}

impl<R> Clone for Ref<R> {
    fn clone(&self) -> Self {
        Ref { address: self.address.clone(), _block: PhantomData }
    }
}

impl<R> Ref<R> {
    /// The bare address (`aws_lambda_function.x` or `data.aws_region.current`), as `depends_on` wants it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A reference to any attribute: `${address.attr}`.
    pub fn attr(&self, attr: &str) -> Expr {
        Expr::raw(format!("{}.{attr}", self.address))
    }
}

/// Terraform's `required_providers` entry.
#[derive(Debug, Clone, Serialize)]
pub struct RequiredProvider {
    pub source: String,
    pub version: String,
}

/// The state backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// State in a local file (for rehearsals and throwaway roots).
    Local { path: String },
    /// State in S3 with S3-native locking (`use_lockfile`, Terraform ≥ 1.11). With `emulator`, the S3 endpoint of
    /// a local AWS emulator and its test credentials (the deploy rehearsal).
    S3 { bucket: String, key: String, region: String, use_lockfile: bool, emulator: Option<String> },
}

impl Backend {
    fn render(&self) -> Value {
        let mut m = Map::new();
        match self {
            Backend::Local { path } => {
                m.insert("local".into(), serde_json::json!({ "path": path }));
            }
            Backend::S3 { bucket, key, region, use_lockfile, emulator } => {
                let mut s3 = serde_json::json!({
                    "bucket": bucket,
                    "key": key,
                    "region": region,
                    "encrypt": true,
                    "use_lockfile": use_lockfile,
                });
                if let Some(endpoint) = emulator {
                    s3["endpoints"] = serde_json::json!({ "s3": endpoint });
                    s3["use_path_style"] = true.into();
                    s3["access_key"] = "test".into();
                    s3["secret_key"] = "test".into();
                    s3["skip_credentials_validation"] = true.into();
                    s3["skip_requesting_account_id"] = true.into();
                    s3["skip_metadata_api_check"] = true.into();
                    s3["skip_region_validation"] = true.into();
                }
                m.insert("s3".into(), s3);
            }
        }
        Value::Object(m)
    }
}

/// An input variable.
#[derive(Debug, Clone, Serialize)]
pub struct Variable {
    #[serde(rename = "type")]
    pub ty: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

/// An output.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub description: String,
    pub value: Value,
}

/// A Terraform root module under construction.
#[derive(Debug, Clone)]
pub struct Stack {
    header: String,
    required_version: String,
    required_providers: IndexMap<String, RequiredProvider>,
    backend: Option<Backend>,
    providers: IndexMap<String, Value>,
    variables: IndexMap<String, Variable>,
    locals: IndexMap<String, Value>,
    data: IndexMap<String, IndexMap<String, Value>>,
    resources: IndexMap<String, IndexMap<String, Value>>,
    outputs: IndexMap<String, Output>,
    moved: Vec<(String, String)>,
    /// Per block address: its type's schema and where the stack code added it.
    origins: IndexMap<String, (&'static schema::Block, String)>,
}

impl Stack {
    /// A stack whose rendered file starts with `"//": header` (say what generated it and how to regenerate).
    pub fn new(header: impl Into<String>, required_version: impl Into<String>) -> Self {
        Stack {
            header: header.into(),
            required_version: required_version.into(),
            required_providers: IndexMap::new(),
            backend: None,
            providers: IndexMap::new(),
            variables: IndexMap::new(),
            locals: IndexMap::new(),
            data: IndexMap::new(),
            resources: IndexMap::new(),
            outputs: IndexMap::new(),
            moved: Vec::new(),
            origins: IndexMap::new(),
        }
    }

    /// Declares that the resource `to` used to live at `from` (same type): Terraform moves it in the state instead
    /// of destroying and recreating it. Rendering checks that `to` exists and `from` does not.
    pub fn moved<R: Resource>(&mut self, from: &str, to: &Ref<R>) -> Result<(), DslError> {
        let name = from.strip_prefix(&format!("{}.", R::TYPE)).ok_or_else(|| DslError::InvalidName {
            what: "a moved address (it must be of the same type)",
            name: from.to_owned(),
        })?;
        check_name("a moved address", name)?;
        self.moved.push((from.to_owned(), to.address().to_owned()));
        Ok(())
    }

    /// [`Stack::moved`] by address, for moves derived from other declarations: both addresses must be of one type.
    pub fn moved_address(&mut self, from: &str, to: &str) -> Result<(), DslError> {
        let (from_type, from_name) = from.split_once('.').unwrap_or(("", from));
        let to_type = to.split_once('.').map_or("", |(t, _)| t);
        if from_type != to_type || from_type.is_empty() {
            return Err(DslError::InvalidName {
                what: "a moved address (it must be of the same type)",
                name: from.to_owned(),
            });
        }
        check_name("a moved address", from_name)?;
        self.moved.push((from.to_owned(), to.to_owned()));
        Ok(())
    }

    /// The declared moves, as `(from, to)` addresses.
    pub fn moves(&self) -> &[(String, String)] {
        &self.moved
    }

    /// Declares a provider requirement, e.g. `("aws", "hashicorp/aws", ">= 5.100, < 6.0")`.
    pub fn require_provider(&mut self, name: &str, source: &str, version: &str) {
        self.required_providers
            .insert(name.to_owned(), RequiredProvider { source: source.to_owned(), version: version.to_owned() });
    }

    pub fn backend(&mut self, backend: Backend) {
        self.backend = Some(backend);
    }

    /// Configures a provider; `config` is any serializable provider block (see [`crate::aws::provider::Provider`]).
    pub fn provider(&mut self, name: &str, config: &impl Serialize) -> Result<(), DslError> {
        let value = to_value(&format!("provider.{name}"), config)?;
        if self.providers.insert(name.to_owned(), value).is_some() {
            return Err(DslError::Duplicate { address: format!("provider.{name}") });
        }
        Ok(())
    }

    pub fn variable(&mut self, name: &str, variable: Variable) -> Result<Expr, DslError> {
        check_name("a variable", name)?;
        if self.variables.insert(name.to_owned(), variable).is_some() {
            return Err(DslError::Duplicate { address: format!("var.{name}") });
        }
        Ok(Expr::raw(format!("var.{name}")))
    }

    /// Adds a local value and returns a reference to it.
    pub fn local(&mut self, name: &str, value: impl Into<Value>) -> Result<Expr, DslError> {
        check_name("a local", name)?;
        if self.locals.insert(name.to_owned(), value.into()).is_some() {
            return Err(DslError::Duplicate { address: format!("local.{name}") });
        }
        Ok(Expr::raw(format!("local.{name}")))
    }

    /// Whether the stack has a local of this name (a value several blocks share is added once).
    pub fn has_local(&self, name: &str) -> bool {
        self.locals.contains_key(name)
    }

    /// Whether a resource of type `ty` named `name` was added (blocks shared by several builders add it once).
    pub fn has_resource(&self, ty: &str, name: &str) -> bool {
        self.resources.get(ty).is_some_and(|by_name| by_name.contains_key(name))
    }

    pub fn output(&mut self, name: &str, description: &str, value: impl Into<Value>) -> Result<(), DslError> {
        check_name("an output", name)?;
        let output = Output { description: description.to_owned(), value: value.into() };
        if self.outputs.insert(name.to_owned(), output).is_some() {
            return Err(DslError::Duplicate { address: format!("output.{name}") });
        }
        Ok(())
    }

    /// Adds a managed resource; its address is `TYPE.name`. The block is checked against its type's schema first;
    /// an error names the block, the argument and the line of the stack code that added it.
    #[track_caller]
    pub fn add<R: Resource>(&mut self, resource: R) -> Result<Ref<R>, DslError> {
        let location = std::panic::Location::caller();
        let name = resource.name().to_owned();
        check_name("a resource", &name)?;
        let address = format!("{}.{name}", R::TYPE);
        let value = self.checked(&address, R::SCHEMA, &resource, location)?;
        let by_name = self.resources.entry(R::TYPE.to_owned()).or_default();
        if by_name.contains_key(&name) {
            return Err(DslError::Duplicate { address });
        }
        by_name.insert(name, value);
        Ok(Ref { address, _block: PhantomData })
    }

    /// Adds a data source; its address is `data.TYPE.name`. Checked like [`Stack::add`].
    #[track_caller]
    pub fn data<D: DataSource>(&mut self, source: D) -> Result<Ref<D>, DslError> {
        let location = std::panic::Location::caller();
        let name = source.name().to_owned();
        check_name("a data source", &name)?;
        let address = format!("data.{}.{name}", D::TYPE);
        let value = self.checked(&address, D::SCHEMA, &source, location)?;
        let by_name = self.data.entry(D::TYPE.to_owned()).or_default();
        if by_name.contains_key(&name) {
            return Err(DslError::Duplicate { address });
        }
        by_name.insert(name, value);
        Ok(Ref { address, _block: PhantomData })
    }

    /// A block rendered and checked against its schema; remembers where it was added.
    fn checked(
        &mut self,
        address: &str,
        schema: &'static schema::Block,
        block: &impl Serialize,
        location: &std::panic::Location<'_>,
    ) -> Result<Value, DslError> {
        let value = to_value(address, block)?;
        let location = format!("{}:{}", location.file(), location.line());
        let problems = schema::check(schema, &value, true);
        if !problems.is_empty() {
            return Err(DslError::Schema {
                address: address.to_owned(),
                location,
                problems: problems.into_iter().map(|p| format!("`{}` {}", p.path, p.what)).collect(),
            });
        }
        if !self.origins.contains_key(address) {
            self.origins.insert(address.to_owned(), (schema, location));
        }
        Ok(value)
    }

    /// The number of managed resources.
    pub fn resource_count(&self) -> usize {
        self.resources.values().map(IndexMap::len).sum()
    }

    /// The addresses of all managed resources, sorted.
    pub fn resource_addresses(&self) -> Vec<String> {
        let mut out: Vec<String> =
            self.resources.iter().flat_map(|(ty, by_name)| by_name.keys().map(move |n| format!("{ty}.{n}"))).collect();
        out.sort();
        out
    }

    /// Renders the stack as pretty JSON with a trailing newline, after checking every reference.
    ///
    /// Blocks are sorted by type and name, so the file does not depend on the order the stack code added them.
    pub fn render(&self) -> Result<String, DslError> {
        let doc = self.to_value()?;
        self.check_references()?;
        let mut text = serde_json::to_string_pretty(&doc)
            .map_err(|e| DslError::Render { address: "stack".into(), message: e.to_string() })?;
        text.push('\n');
        Ok(text)
    }

    fn to_value(&self) -> Result<Value, DslError> {
        let mut root = Map::new();
        root.insert("//".into(), Value::String(self.header.clone()));

        let mut terraform = Map::new();
        terraform.insert("required_version".into(), Value::String(self.required_version.clone()));
        if !self.required_providers.is_empty() {
            terraform.insert("required_providers".into(), to_value("terraform", &self.required_providers)?);
        }
        if let Some(backend) = &self.backend {
            terraform.insert("backend".into(), backend.render());
        }
        root.insert("terraform".into(), Value::Object(terraform));

        if !self.providers.is_empty() {
            root.insert("provider".into(), to_value("provider", &self.providers)?);
        }
        if !self.variables.is_empty() {
            root.insert("variable".into(), to_value("variable", &sorted(&self.variables))?);
        }
        if !self.locals.is_empty() {
            root.insert("locals".into(), Value::Object(sorted(&self.locals).into_iter().collect()));
        }
        if !self.data.is_empty() {
            root.insert("data".into(), nested_sorted(&self.data));
        }
        if !self.resources.is_empty() {
            root.insert("resource".into(), nested_sorted(&self.resources));
        }
        if !self.outputs.is_empty() {
            root.insert("output".into(), to_value("output", &sorted(&self.outputs))?);
        }
        if !self.moved.is_empty() {
            let mut moved = self.moved.clone();
            moved.sort();
            let blocks: Vec<Value> =
                moved.iter().map(|(from, to)| serde_json::json!({ "from": from, "to": to })).collect();
            root.insert("moved".into(), Value::Array(blocks));
        }
        Ok(Value::Object(root))
    }

    fn check_references(&self) -> Result<(), DslError> {
        let known: BTreeSet<String> = self
            .resource_addresses()
            .into_iter()
            .chain(self.data.iter().flat_map(|(t, m)| m.keys().map(move |n| format!("data.{t}.{n}"))))
            .chain(self.variables.keys().map(|n| format!("var.{n}")))
            .chain(self.locals.keys().map(|n| format!("local.{n}")))
            .collect();

        let check = |from: String, value: &Value| -> Result<(), DslError> {
            let mut needed = Vec::new();
            collect_strings(value, "", &mut |path, s| {
                let mut found = Vec::new();
                scan_template(s, &mut found);
                needed.extend(found.into_iter().map(|n| (path.to_owned(), n)));
            });
            if let Some(Value::Array(deps)) = value.get("depends_on") {
                for dep in deps.iter().filter_map(Value::as_str) {
                    let n = match dep.strip_prefix("data.") {
                        Some(rest) => Needed::Data(rest.to_owned(), None),
                        None => Needed::Resource(dep.to_owned(), None),
                    };
                    needed.push(("depends_on".to_owned(), n));
                }
            }
            if let Some((_, n)) = needed.iter().find(|(_, n)| !known.contains(&n.address())) {
                return Err(DslError::Dangling { from, to: n.address() });
            }
            // A reference reads an attribute (or nested block) the target's type has.
            for (property, n) in &needed {
                let (Needed::Resource(_, Some(attr)) | Needed::Data(_, Some(attr))) = n else { continue };
                let Some((schema, _)) = self.origins.get(&n.address()) else { continue };
                if !schema.has(attr) {
                    let location =
                        self.origins.get(&from).map(|(_, l)| l.clone()).unwrap_or_else(|| "the stack".into());
                    return Err(DslError::UnknownAttribute {
                        from: from.clone(),
                        property: property.clone(),
                        reference: format!("{}.{attr}", n.address()),
                        location,
                    });
                }
            }
            Ok(())
        };

        for (name, value) in &self.providers {
            check(format!("provider.{name}"), value)?;
        }
        for (name, value) in &self.locals {
            check(format!("local.{name}"), value)?;
        }
        for (prefix, blocks) in [("data.", &self.data), ("", &self.resources)] {
            for (ty, by_name) in blocks {
                for (name, value) in by_name {
                    check(format!("{prefix}{ty}.{name}"), value)?;
                }
            }
        }
        for (name, output) in &self.outputs {
            check(format!("output.{name}"), &output.value)?;
        }
        let resources: BTreeSet<String> = self.resource_addresses().into_iter().collect();
        for (from, to) in &self.moved {
            if !resources.contains(to) {
                return Err(DslError::Dangling { from: format!("moved from {from}"), to: to.clone() });
            }
            if resources.contains(from) {
                return Err(DslError::Duplicate { address: from.clone() });
            }
        }
        Ok(())
    }
}

fn to_value(address: &str, v: &impl Serialize) -> Result<Value, DslError> {
    serde_json::to_value(v).map_err(|e| DslError::Render { address: address.to_owned(), message: e.to_string() })
}

fn sorted<V: Clone>(m: &IndexMap<String, V>) -> IndexMap<String, V> {
    let mut m = m.clone();
    m.sort_keys();
    m
}

fn nested_sorted(m: &IndexMap<String, IndexMap<String, Value>>) -> Value {
    sorted(m).into_iter().map(|(ty, by_name)| (ty, Value::Object(sorted(&by_name).into_iter().collect()))).collect()
}

/// Every string in a value, with the path of the property that holds it (`environment.variables.X`).
fn collect_strings(v: &Value, path: &str, f: &mut impl FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(path, s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, path, f)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            collect_strings(x, &here, f)
        }),
        _ => {}
    }
}

/// Terraform identifiers: a letter or `_`, then letters, digits, `_` or `-`.
fn check_name(what: &'static str, name: &str) -> Result<(), DslError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(DslError::InvalidName { what, name: name.to_owned() })
    }
}
