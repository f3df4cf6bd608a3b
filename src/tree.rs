//! A JSON tree read in place: a `serde_json` value, or the render's nodes.
//!
//! Some readers want only part of an object: the admission policies a few fields of each
//! CRD, the CRD catalog the schema keywords it compiles. A rendered object is a tree of
//! [`crate::render::node::Node`]s; converting it whole to a value for them costs a copy of
//! every node (a megabyte of schema for a large CRD). They read through this trait
//! instead, so that both trees give the same answer from the same code.

use serde_json::Value;

/// A JSON tree. Serialized, it is the JSON of the value it stands for, mapping keys in
/// sorted order as `serde_json` writes them.
pub trait Tree: serde::Serialize + Sized {
    /// The child at mapping key `key`; `None` if this is not a mapping or has no such key.
    fn get(&self, key: &str) -> Option<&Self>;

    /// A mapping's entries, in key order; `None` if this is not a mapping.
    fn entries(&self) -> Option<impl Iterator<Item = (&str, &Self)>>;

    /// A sequence's items; `None` if this is not a sequence.
    fn items(&self) -> Option<&[Self]>;

    fn as_str(&self) -> Option<&str>;

    fn as_bool(&self) -> Option<bool>;

    /// The tree (with all below it) as a value.
    fn to_json(&self) -> Value;

    fn is_map(&self) -> bool {
        self.entries().is_some()
    }

    /// The tree at a path of mapping keys.
    fn path(&self, keys: &[&str]) -> Option<&Self> {
        keys.iter().try_fold(self, |t, k| t.get(k))
    }
}

impl Tree for Value {
    fn get(&self, key: &str) -> Option<&Self> {
        self.as_object()?.get(key)
    }

    fn entries(&self) -> Option<impl Iterator<Item = (&str, &Self)>> {
        Some(self.as_object()?.iter().map(|(k, v)| (k.as_str(), v)))
    }

    fn items(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }

    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }

    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }

    fn to_json(&self) -> Value {
        self.clone()
    }

    fn is_map(&self) -> bool {
        self.is_object()
    }
}
