//! kustomize's `configMapGenerator` and `secretGenerator`, as kustomize v5.7.1 runs them.
//!
//! [`hash_suffix`] computes the name suffix of a generated object from its final content:
//! the builder appends `-<suffix>` to the name of every generated object that asks for one,
//! at the end of the root build, after every transformer and patch.

mod hash;

pub use self::hash::hash_suffix;
