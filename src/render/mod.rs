//! Stage 2b: what the repository deploys, rendered from its files.
//!
//! kustomize overlays are rendered natively ([`node`] keeps, for every node of a rendered
//! object, the file and span that produced it), so a finding on the rendered object lands
//! on the line the author must edit: the base resource, the patch, or the kustomization
//! field.

pub mod node;
pub mod patch;
