//! Typed Terraform values beyond strings: numbers, booleans, lists, sets, maps, nested blocks and values of any
//! type, each either a literal or an expression of that type (`${var.x}`, `${aws_x.y.attr}`).
//!
//! Strings are [`Expr`] (literal text and interpolations, escaped on the way out). The generated resource types take
//! these as arguments and return them from their typed references, so a number attribute accepts `256` or another
//! resource's number attribute, never a string. This module does not know which attributes exist; the generated
//! types and the schema check do.

use indexmap::IndexMap;
use serde::{Serialize, Serializer};

use crate::Expr;

/// A Terraform number: a literal (rendered as a JSON number, `256` or `5.0` as given) or an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    Lit(serde_json::Number),
    Expr(Expr),
}

impl Num {
    /// An HCL expression of number type, e.g. `Num::raw("var.memory")`.
    pub fn raw(hcl: impl Into<String>) -> Num {
        Num::Expr(Expr::raw(hcl))
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Num::Lit(n) => n.serialize(s),
            Num::Expr(e) => e.serialize(s),
        }
    }
}

macro_rules! num_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Num {
            fn from(v: $t) -> Num {
                Num::Lit(serde_json::Number::from(v))
            }
        }
    )*};
}
num_from_int!(u8, u16, u32, u64, i8, i16, i32, i64, usize);

impl From<f64> for Num {
    /// A non-finite float has no JSON form; it renders as the expression `null` would, which the schema check
    /// then reports as a missing value instead of writing invalid JSON.
    fn from(v: f64) -> Num {
        serde_json::Number::from_f64(v).map_or_else(|| Num::raw("null"), Num::Lit)
    }
}

/// A Terraform bool: a literal or an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Bool {
    Lit(bool),
    Expr(Expr),
}

impl Bool {
    /// An HCL expression of bool type.
    pub fn raw(hcl: impl Into<String>) -> Bool {
        Bool::Expr(Expr::raw(hcl))
    }
}

impl From<bool> for Bool {
    fn from(v: bool) -> Bool {
        Bool::Lit(v)
    }
}

impl Serialize for Bool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Bool::Lit(b) => b.serialize(s),
            Bool::Expr(e) => e.serialize(s),
        }
    }
}

/// A list or set of `T`: literal elements, or one expression of the collection's type.
#[derive(Debug, Clone, PartialEq)]
pub enum List<T> {
    Lit(Vec<T>),
    Expr(Expr),
}

impl<T> List<T> {
    /// An HCL expression of list type, e.g. `List::raw("var.origins")`.
    pub fn raw(hcl: impl Into<String>) -> List<T> {
        List::Expr(Expr::raw(hcl))
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            List::Lit(v) => v.serialize(s),
            List::Expr(e) => e.serialize(s),
        }
    }
}

impl<T, U: Into<T>> From<Vec<U>> for List<T> {
    fn from(v: Vec<U>) -> List<T> {
        List::Lit(v.into_iter().map(Into::into).collect())
    }
}

impl<T, U: Into<T>, const N: usize> From<[U; N]> for List<T> {
    fn from(v: [U; N]) -> List<T> {
        List::Lit(v.into_iter().map(Into::into).collect())
    }
}

/// A map from strings to `T`, in the order given (a `BTreeMap` gives sorted keys), or one expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Map<T> {
    Lit(IndexMap<String, T>),
    Expr(Expr),
}

impl<T> Map<T> {
    /// An HCL expression of map type.
    pub fn raw(hcl: impl Into<String>) -> Map<T> {
        Map::Expr(Expr::raw(hcl))
    }
}

impl<T: Serialize> Serialize for Map<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Map::Lit(m) => m.serialize(s),
            Map::Expr(e) => e.serialize(s),
        }
    }
}

impl<T, K: Into<String>, U: Into<T>> FromIterator<(K, U)> for Map<T> {
    fn from_iter<I: IntoIterator<Item = (K, U)>>(iter: I) -> Map<T> {
        Map::Lit(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl<T, U: Into<T>> From<IndexMap<String, U>> for Map<T> {
    fn from(m: IndexMap<String, U>) -> Map<T> {
        m.into_iter().collect()
    }
}

impl<T, U: Into<T>> From<std::collections::BTreeMap<String, U>> for Map<T> {
    fn from(m: std::collections::BTreeMap<String, U>) -> Map<T> {
        m.into_iter().collect()
    }
}

impl<T, K: Into<String>, U: Into<T>, const N: usize> From<[(K, U); N]> for Map<T> {
    fn from(v: [(K, U); N]) -> Map<T> {
        v.into_iter().collect()
    }
}

/// A value of a type this model does not spell out (object and tuple types, `dynamic`): any JSON value, whose
/// strings are template text like every string in Terraform JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Any(pub serde_json::Value);

impl Any {
    /// An HCL expression of any type.
    pub fn raw(hcl: impl Into<String>) -> Any {
        Any(serde_json::Value::String(Expr::raw(hcl).render()))
    }
}

impl From<serde_json::Value> for Any {
    fn from(v: serde_json::Value) -> Any {
        Any(v)
    }
}

impl From<Expr> for Any {
    fn from(e: Expr) -> Any {
        Any(serde_json::Value::String(e.render()))
    }
}

/// Repeated nested blocks (`list` or `set` nesting): one block, rendered as a JSON object, or several, rendered as
/// an array. Terraform's JSON syntax reads both the same way; the choice only keeps a rendering readable.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocks<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Blocks<T> {
    /// How many blocks.
    pub fn len(&self) -> usize {
        match self {
            Blocks::One(_) => 1,
            Blocks::Many(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Serialize> Serialize for Blocks<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Blocks::One(b) => b.serialize(s),
            Blocks::Many(v) => v.serialize(s),
        }
    }
}

impl<T> From<T> for Blocks<T> {
    fn from(b: T) -> Blocks<T> {
        Blocks::One(b)
    }
}

impl<T> From<Vec<T>> for Blocks<T> {
    fn from(v: Vec<T>) -> Blocks<T> {
        Blocks::Many(v)
    }
}
