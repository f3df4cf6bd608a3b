//! Stage 2b: what the repository deploys, rendered from its files.
//!
//! kustomize overlays are rendered natively: [`build`] follows kustomize v5.7's build
//! (resources, components, generators, transformers, name references, sort), and every
//! node of a rendered object keeps the file and span that produced it ([`node`]), so a
//! finding on the rendered object lands on the line the author must edit: the base
//! resource, the patch, or the kustomization field. Helm charts are rendered by the
//! user's `helm` ([`helm`]), and each rendered node is traced back to the template line
//! that wrote it or the values line that set it.

pub mod build;
pub mod command;
pub mod config;
pub mod emit;
pub mod fieldpath;
pub mod files;
pub mod generate;
pub mod helm;
pub mod helmcharts;
pub mod kustomization;
pub mod nameref;
pub mod node;
pub mod object;
pub mod patch;
pub mod replace;
pub mod resource;
pub mod roots;
pub mod scope;
pub mod transform;
pub mod vars;

use node::Origin;

/// Why a kustomization cannot be rendered, at the line that says so.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub message: String,
    pub origin: Origin,
    /// Report it at the key of `origin` rather than its value.
    pub at_key: bool,
}

impl Error {
    pub fn new(message: impl Into<String>, origin: Origin) -> Self {
        Self {
            message: message.into(),
            origin,
            at_key: false,
        }
    }

    pub fn at_key(message: impl Into<String>, origin: Origin) -> Self {
        Self {
            message: message.into(),
            origin,
            at_key: true,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Something a render could not do or warns about, at its line; the render goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    /// `kustomize-remote`, `kustomize-helm`, `kustomize-unsupported`, `kustomize-deprecated`;
    /// for charts `helm-error`, `helm-not-found`, `helm-dependency-missing`.
    pub rule: &'static str,
    pub message: String,
    pub origin: Origin,
}
