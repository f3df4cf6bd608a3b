//! Which kinds kustomize takes for cluster-scoped: those its embedded Kubernetes OpenAPI
//! (v1.21.2) serves without a namespace (the generated table of [`super::patch`]). Kinds it
//! does not know count as namespaced.

/// Whether kustomize knows `group/version` `kind` to be cluster-scoped.
pub fn is_cluster_scoped(group: &str, version: &str, kind: &str) -> bool {
    super::patch::is_namespaced(group, version, kind) == Some(false)
}
