//! kustomize's patches, applied to [`Node`] trees so that every node keeps the file and span
//! that produced it: strategic merge patches as kyaml does them, JSON 6902 patches, and the
//! target selectors of `patches:` entries; the semantics are those of kustomize v5.7.1 (the
//! kustomize in kubectl 1.35).
//!
//! - [`strategic_merge`] / [`strategic_merge_with`]: kyaml's `merge2` (not apimachinery's
//!   strategic merge patch). Maps merge recursively and `key: null` deletes; lists merge by
//!   key only where the Kubernetes 1.21.2 OpenAPI that kyaml embeds gives a merge key,
//!   patch elements first (`[a,b,c]` + `[c,z]` gives `[c,z,a,b]`); any other list (scalars,
//!   custom resources, fields newer than 1.21) is replaced; `$patch: delete|replace|merge`
//!   work on maps and list elements, `$patch: delete` at the top deletes the object
//!   ([`Merged::Deleted`]); `$setElementOrder/…`, `$retainKeys`, `$deleteFromPrimitiveList/…`
//!   are plain keys, and `retainKeys` strategies are ignored.
//! - [`json6902`]: `add remove replace move copy test` with evanphx/json-patch v4 semantics
//!   and error messages.
//! - [`Selector`]: `group version kind name namespace` as anchored regular expressions,
//!   `labelSelector` and `annotationSelector` in Kubernetes selector syntax.
//! - [`is_namespaced`]: the scope kustomize gives a kind (from the same OpenAPI).
//!
//! Provenance: a node the patch supplies carries the patch's [`Origin`]; a node the patch
//! leaves alone keeps its own; a merged map or list keeps the target's origin for itself
//! unless the patch replaced it.
//!
//! The merge keys and scopes come from the generated table `meta.rs` (`cargo run -p xtask --
//! patch-meta`, from `xtask/upstream/`).
//!
//! Where a [`Node`] knows less than kyaml's YAML nodes, the engine approximates:
//! - a scalar's style: kyaml gives a value the quoting of the one it replaces (a number
//!   patched over `"8080"` becomes a string); whether a string was quoted is read from its
//!   span (see `smp::quoted`);
//! - a scalar's text (merge keys are compared as text): numbers and booleans are printed
//!   from their values, so `0x50` and `80` are one key here and two in kyaml;
//! - `key:` and `key: null` are the same null (kyaml keeps the second, drops the first);
//! - known fields with nothing merged by key below them are one opaque schema node, so
//!   kyaml's lookup of an embedded `apiVersion`/`kind` happens here only where kyaml has no
//!   schema at all (custom resources, unknown kinds), not under unknown fields of known kinds;
//! - schemas given in comments (`# {"$openapi": …}`, kyaml's field metadata) are not read.

mod json6902;
#[rustfmt::skip]
mod meta;
mod schema;
mod selector;
mod smp;

use std::fmt;

pub use schema::is_namespaced;
pub use selector::Selector;
pub use smp::{Merged, SmpOptions};

use crate::render::node::{Node, Origin};

/// Why a patch could not be applied, at the patch node that failed (the operation, its path,
/// the list element, the directive), so that the finding lands on that line; when it is the
/// target's own content that breaks the merge (a scalar in a list of objects), at that target
/// node. `message` is worded as kustomize words it where practical.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchError {
    pub message: String,
    pub origin: Origin,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PatchError {}

/// Applies a strategic merge patch to `target` as kustomize does for a `patches:` entry
/// without `target:` (and for `patchesStrategicMerge`): kyaml's merge with merge keys looked
/// up by the target's `apiVersion`/`kind`, then the target's `kind`, `metadata.name` and
/// `metadata.namespace` put back. For an entry with `target:` or `options:`, use
/// [`strategic_merge_with`].
///
/// Read the patch with the kyaml reader ([`crate::parse::Reader::Kyaml`]), as kustomize does.
pub fn strategic_merge(target: &mut Node, patch: &Node) -> Result<Merged, PatchError> {
    smp::apply(target, patch, SmpOptions::default())
}

/// [`strategic_merge`] with the options of a `patches:` entry: `targeted` when it has a
/// `target:` (kustomize then also gives the patch the target's `apiVersion` and rewrites its
/// labels and annotations as string maps), `allow_name_change` / `allow_kind_change` from
/// its `options:`.
pub fn strategic_merge_with(
    target: &mut Node,
    patch: &Node,
    options: SmpOptions,
) -> Result<Merged, PatchError> {
    smp::apply(target, patch, options)
}

/// Applies a JSON 6902 patch: `ops` is the sequence of operations, read from the patch text
/// as kustomize reads it (JSON when the text starts with `[`, else YAML through
/// sigs.k8s.io/yaml, i.e. [`crate::parse::Reader::Kubectl`]: YAML 1.1 scalars, so `yes` is
/// `true` and `0777` is 511). Values an operation adds carry the origin of the patch's
/// `value`; `move` and `copy` keep the origins of what they move or copy. Then, as
/// kustomize does after every JSON patch, `metadata.annotations` becomes a map of strings,
/// and goes away when empty. On error the target is left as it was.
pub fn json6902(target: &mut Node, ops: &Node) -> Result<(), PatchError> {
    json6902::apply(target, ops)
}

/// What kustomize does to an object's annotations whenever it rewrites them through
/// `SetAnnotations` (after every JSON patch, and for every object at the end of a build when
/// it removes its internal annotations): `metadata.annotations` becomes a map of the values'
/// texts (`1` becomes `"1"`, `{}` becomes `""`), and goes away when empty.
pub fn string_annotations(object: &mut Node) {
    json6902::rewrite_annotations(object);
}

#[cfg(test)]
mod tests;
