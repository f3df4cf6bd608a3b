//! Lookups in the generated table ([`super::meta`]): the schema node of a kind, of a field,
//! of a list's elements, and whether a kind is namespaced.

use super::meta::{KINDS, SCOPES, TYPES};

/// A node of the schema graph kyaml merges with (see `xtask/src/patch_meta.rs`).
#[derive(Debug)]
pub(crate) enum Ty {
    /// A field kyaml has a schema for, with no list merged by key below it.
    Opaque,
    /// An object: the fields that lead to lists merged by key, sorted by name; any other
    /// field is [`Ty::Opaque`].
    Object(&'static [(&'static str, u16)]),
    /// A map (`additionalProperties`): every value has this type. (No list merged by key
    /// sits under a map in Kubernetes 1.21.2, but the generator supports it.)
    #[allow(dead_code)]
    Map(u16),
    /// A list kyaml merges by key (`x-kubernetes-patch-strategy` has `merge`). `keys` are
    /// `x-kubernetes-list-map-keys`, else `x-kubernetes-patch-merge-key`, else none (a list
    /// of scalars merged as a set). `retain_keys`: the strategy also has `retainKeys`, which
    /// kyaml ignores.
    List {
        keys: &'static [&'static str],
        #[cfg_attr(not(test), allow(dead_code))]
        retain_keys: bool,
        items: Option<u16>,
    },
}

/// Where a walk is in the schema graph. `None` where kyaml has no schema: custom resources,
/// fields newer than Kubernetes 1.21, the elements of a list without `items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schema(u16);

const OPAQUE: Schema = Schema(0);

impl Schema {
    fn ty(self) -> &'static Ty {
        &TYPES[self.0 as usize]
    }

    /// The schema of the kind `apiVersion`/`kind`, if kyaml knows it.
    pub(crate) fn of_kind(api_version: &str, kind: &str) -> Option<Schema> {
        KINDS
            .binary_search_by(|(a, k, _)| (*a, *k).cmp(&(api_version, kind)))
            .ok()
            .map(|i| Schema(KINDS[i].2))
    }

    /// The schema of a field of this node (kyaml's `ResourceSchema.Field`).
    pub(crate) fn field(self, name: &str) -> Option<Schema> {
        match self.ty() {
            Ty::Opaque => Some(OPAQUE),
            Ty::Object(fields) => Some(
                fields
                    .binary_search_by(|(n, _)| (*n).cmp(name))
                    .map_or(OPAQUE, |i| Schema(fields[i].1)),
            ),
            Ty::Map(value) => Some(Schema(*value)),
            Ty::List { .. } => None,
        }
    }

    /// The keys and element schema of a list merged by key; `None` for any other node (a
    /// list kyaml replaces wholesale).
    pub(crate) fn merge_list(self) -> Option<(&'static [&'static str], Option<Schema>)> {
        match self.ty() {
            Ty::List { keys, items, .. } => Some((keys, items.map(Schema))),
            _ => None,
        }
    }

    /// Whether this list's patch strategy also names `retainKeys` (which kyaml ignores).
    #[cfg(test)]
    pub(crate) fn retain_keys(self) -> bool {
        matches!(
            self.ty(),
            Ty::List {
                retain_keys: true,
                ..
            }
        )
    }
}

/// Whether kustomize (kyaml, from the Kubernetes 1.21.2 OpenAPI) knows the kind as namespaced
/// (`Some(true)`) or cluster-scoped (`Some(false)`); `None` for a kind it does not know: a
/// custom resource, or a kind newer than 1.21. kustomize treats unknown kinds as namespaced
/// (it sets `namespace:` on them). `group` is `""` for the core group.
pub fn is_namespaced(group: &str, version: &str, kind: &str) -> Option<bool> {
    // `a` against `group/version`, without building it (kustomize asks for every pair of
    // objects of a root).
    let api_version = |a: &str| {
        if group.is_empty() {
            a.cmp(version)
        } else {
            let wanted = group
                .as_bytes()
                .iter()
                .chain(b"/")
                .chain(version.as_bytes());
            a.as_bytes().iter().cmp(wanted)
        }
    };
    SCOPES
        .binary_search_by(|(a, k, _)| api_version(a).then_with(|| (*k).cmp(kind)))
        .ok()
        .map(|i| SCOPES[i].2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(api_version: &str, kind: &str, path: &[&str]) -> Option<Schema> {
        let mut s = Schema::of_kind(api_version, kind)?;
        for p in path {
            s = if *p == "[]" {
                s.merge_list()?.1?
            } else {
                s.field(p)?
            };
        }
        Some(s)
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(
            KINDS
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
        assert!(
            SCOPES
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
        for ty in &TYPES {
            if let Ty::Object(fields) = ty {
                assert!(fields.windows(2).all(|w| w[0].0 < w[1].0));
            }
        }
    }

    #[test]
    fn merge_keys_of_well_known_lists() {
        let containers = at(
            "apps/v1",
            "Deployment",
            &["spec", "template", "spec", "containers"],
        )
        .unwrap()
        .merge_list()
        .unwrap();
        assert_eq!(containers.0, ["name"]);
        let ports = at(
            "apps/v1",
            "Deployment",
            &["spec", "template", "spec", "containers", "[]", "ports"],
        )
        .unwrap();
        assert_eq!(ports.merge_list().unwrap().0, ["containerPort", "protocol"]);
        let volumes = at("v1", "Pod", &["spec", "volumes"]).unwrap();
        assert!(volumes.retain_keys());
        assert_eq!(volumes.merge_list().unwrap().0, ["name"]);
        let finalizers = at("v1", "Pod", &["metadata", "finalizers"]).unwrap();
        assert_eq!(finalizers.merge_list().unwrap().0, [] as [&str; 0]);
        // Lists without a patch strategy are replaced: args, tolerations.
        let args = at("v1", "Pod", &["spec", "containers", "[]", "args"]).unwrap();
        assert!(args.merge_list().is_none());
        assert!(
            at("v1", "Pod", &["spec", "tolerations"])
                .unwrap()
                .merge_list()
                .is_none()
        );
        // Known fields without lists merged by key below them are opaque, not unknown.
        assert_eq!(at("v1", "Pod", &["spec", "nodeSelector"]), Some(OPAQUE));
        // A kind newer than 1.21 or a custom resource has no schema.
        assert!(
            Schema::of_kind(
                "admissionregistration.k8s.io/v1",
                "ValidatingAdmissionPolicy"
            )
            .is_none()
        );
        assert!(Schema::of_kind("example.com/v1", "Widget").is_none());
    }

    #[test]
    fn scopes_as_kyaml_knows_them() {
        assert_eq!(is_namespaced("", "v1", "ConfigMap"), Some(true));
        assert_eq!(is_namespaced("", "v1", "Namespace"), Some(false));
        assert_eq!(
            is_namespaced("rbac.authorization.k8s.io", "v1", "ClusterRole"),
            Some(false)
        );
        assert_eq!(is_namespaced("apps", "v1", "Deployment"), Some(true));
        assert_eq!(
            is_namespaced("storage.k8s.io", "v1", "StorageClass"),
            Some(false)
        );
        // Newer than 1.21, or custom: unknown (kustomize then sets a namespace on them).
        assert_eq!(
            is_namespaced(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingAdmissionPolicy"
            ),
            None
        );
        assert_eq!(is_namespaced("example.com", "v1", "Widget"), None);
    }
}
