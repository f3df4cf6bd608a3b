//! Built-in Kubernetes API versions that are no longer served, per kind.
//!
//! A manifest using one of these `apiVersion`/`kind` pairs cannot be applied to a cluster at or
//! after [`Removal::removed_in`]; the schemas bundled with kubegate (which only describe served
//! versions) would merely report "unknown kind", so the CLI consults this table first to give an
//! actionable message ("`extensions/v1beta1` `Ingress` was removed in Kubernetes 1.22; use
//! `networking.k8s.io/v1`").
//!
//! Sources:
//!
//! * Up to 1.32: the official Deprecated API Migration Guide
//!   (<https://kubernetes.io/docs/reference/using-api/deprecation-guide/>), sections "v1.16" to
//!   "v1.32". "Removed" there means "no longer served by default", which is what matters for a
//!   manifest.
//! * Entries marked *k8s-openapi* are kinds that the Kubernetes OpenAPI specs stop listing in a
//!   given release, as seen in the per-release modules of k8s-openapi (0.29 for 1.33 to 1.37,
//!   earlier releases for older versions). The guide does not cover alpha APIs, nor (yet) releases
//!   after 1.32.
//!
//! [`Removal::replacement`] is the most stable `apiVersion` that serves the same kind in every
//! release from `removed_in` to 1.37, so the advice holds for any cluster the removal affects.
//! Where no single version does (an alpha API that moved twice), it is the one served in 1.37 and
//! the entry says so in a comment.
//!
//! This module depends on nothing but `std`.

/// When a built-in `apiVersion`/`kind` stopped being served, and what to use instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Removal {
    /// First Kubernetes release (major, minor) that no longer serves it, e.g. `(1, 22)`.
    pub removed_in: (u32, u32),
    /// The `apiVersion` to migrate to (same kind), e.g. `"networking.k8s.io/v1"`; `None` when the
    /// kind was dropped without a built-in successor (PodSecurityPolicy: use Pod Security
    /// Admission or a third-party policy engine instead).
    pub replacement: Option<&'static str>,
}

impl Removal {
    /// "use `apps/v1`", or what to do when the kind has no successor.
    pub fn advice(&self) -> String {
        match self.replacement {
            Some(r) => format!("use `{r}`"),
            None => "the kind has no replacement; remove it (PodSecurityPolicy gave way to \
                     Pod Security Admission)"
                .into(),
        }
    }
}

/// Looks up a removed built-in `apiVersion`/`kind` pair (both compared exactly, as the API server
/// does). Returns `None` for anything still served, or not built in.
///
/// Besides the kinds listed one by one, a few group versions that were removed as a whole with a
/// single successor (`apps/v1beta1`, `apps/v1beta2`, `authorization.k8s.io/v1beta1` and the RBAC
/// betas/alphas) match any kind.
pub fn lookup(api_version: &str, kind: &str) -> Option<Removal> {
    let exact = REMOVED
        .iter()
        .find(|entry| entry.0 == api_version && entry.1 == kind);
    let whole_version = || {
        REMOVED
            .iter()
            .find(|entry| entry.0 == api_version && entry.1 == ANY_KIND)
    };
    exact.or_else(whole_version).map(|entry| Removal {
        removed_in: entry.2,
        replacement: entry.3,
    })
}

/// `(apiVersion, kind or [`ANY_KIND`], removed_in, replacement)`.
type Entry = (&'static str, &'static str, (u32, u32), Option<&'static str>);

/// Kind wildcard: the whole group version was removed.
const ANY_KIND: &str = "*";

const APPS_V1: Option<&str> = Some("apps/v1");
const NETWORKING_V1: Option<&str> = Some("networking.k8s.io/v1");
const RBAC_V1: Option<&str> = Some("rbac.authorization.k8s.io/v1");
const AUTHORIZATION_V1: Option<&str> = Some("authorization.k8s.io/v1");
const STORAGE_V1: Option<&str> = Some("storage.k8s.io/v1");
const FLOWCONTROL_V1: Option<&str> = Some("flowcontrol.apiserver.k8s.io/v1");
const RESOURCE_V1: Option<&str> = Some("resource.k8s.io/v1");
const SCHEDULING_V1BETA1: Option<&str> = Some("scheduling.k8s.io/v1beta1");

/// Every removal, grouped by release (oldest first).
#[rustfmt::skip]
const REMOVED: &[Entry] = &[
    // --- v1.16 -----------------------------------------------------------------------------
    ("extensions/v1beta1", "DaemonSet", (1, 16), APPS_V1),
    ("extensions/v1beta1", "Deployment", (1, 16), APPS_V1),
    ("extensions/v1beta1", "ReplicaSet", (1, 16), APPS_V1),
    ("extensions/v1beta1", "NetworkPolicy", (1, 16), NETWORKING_V1),
    // Not in the guide; the 1.16 release notes moved it to policy/v1beta1, itself removed in 1.25
    // without a successor.
    ("extensions/v1beta1", "PodSecurityPolicy", (1, 16), None),
    ("apps/v1beta1", "Deployment", (1, 16), APPS_V1),
    ("apps/v1beta1", "StatefulSet", (1, 16), APPS_V1),
    // The guide lists apps/v1beta1 ReplicaSet too, although that version never served it.
    ("apps/v1beta1", "ReplicaSet", (1, 16), APPS_V1),
    // Not in the guide, which only names the workload kinds; the whole group version went.
    ("apps/v1beta1", "ControllerRevision", (1, 16), APPS_V1),
    ("apps/v1beta2", "DaemonSet", (1, 16), APPS_V1),
    ("apps/v1beta2", "Deployment", (1, 16), APPS_V1),
    ("apps/v1beta2", "ReplicaSet", (1, 16), APPS_V1),
    ("apps/v1beta2", "StatefulSet", (1, 16), APPS_V1),
    ("apps/v1beta2", "ControllerRevision", (1, 16), APPS_V1), // as for apps/v1beta1
    ("apps/v1beta1", ANY_KIND, (1, 16), APPS_V1),
    ("apps/v1beta2", ANY_KIND, (1, 16), APPS_V1),
    // --- v1.22 -----------------------------------------------------------------------------
    ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", (1, 22), Some("admissionregistration.k8s.io/v1")),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", (1, 22), Some("admissionregistration.k8s.io/v1")),
    ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", (1, 22), Some("apiextensions.k8s.io/v1")),
    ("apiregistration.k8s.io/v1beta1", "APIService", (1, 22), Some("apiregistration.k8s.io/v1")),
    ("authentication.k8s.io/v1beta1", "TokenReview", (1, 22), Some("authentication.k8s.io/v1")),
    ("authorization.k8s.io/v1beta1", "LocalSubjectAccessReview", (1, 22), AUTHORIZATION_V1),
    ("authorization.k8s.io/v1beta1", "SelfSubjectAccessReview", (1, 22), AUTHORIZATION_V1),
    ("authorization.k8s.io/v1beta1", "SubjectAccessReview", (1, 22), AUTHORIZATION_V1),
    // Not named in the guide, but authorization.k8s.io/v1beta1 as a whole was removed in 1.22
    // (k8s-openapi: absent from the 1.22 spec).
    ("authorization.k8s.io/v1beta1", "SelfSubjectRulesReview", (1, 22), AUTHORIZATION_V1),
    ("authorization.k8s.io/v1beta1", ANY_KIND, (1, 22), AUTHORIZATION_V1),
    ("certificates.k8s.io/v1beta1", "CertificateSigningRequest", (1, 22), Some("certificates.k8s.io/v1")),
    ("coordination.k8s.io/v1beta1", "Lease", (1, 22), Some("coordination.k8s.io/v1")),
    ("extensions/v1beta1", "Ingress", (1, 22), NETWORKING_V1),
    ("networking.k8s.io/v1beta1", "Ingress", (1, 22), NETWORKING_V1),
    ("networking.k8s.io/v1beta1", "IngressClass", (1, 22), NETWORKING_V1),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole", (1, 22), RBAC_V1),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", (1, 22), RBAC_V1),
    ("rbac.authorization.k8s.io/v1beta1", "Role", (1, 22), RBAC_V1),
    ("rbac.authorization.k8s.io/v1beta1", "RoleBinding", (1, 22), RBAC_V1),
    ("rbac.authorization.k8s.io/v1beta1", ANY_KIND, (1, 22), RBAC_V1),
    ("scheduling.k8s.io/v1beta1", "PriorityClass", (1, 22), Some("scheduling.k8s.io/v1")),
    ("storage.k8s.io/v1beta1", "CSIDriver", (1, 22), STORAGE_V1),
    ("storage.k8s.io/v1beta1", "CSINode", (1, 22), STORAGE_V1),
    ("storage.k8s.io/v1beta1", "StorageClass", (1, 22), STORAGE_V1),
    ("storage.k8s.io/v1beta1", "VolumeAttachment", (1, 22), STORAGE_V1),
    // --- v1.23 (alpha; not in the guide) -------------------------------------------------------
    // k8s-openapi: still in the 1.22 spec, gone from 1.23. Deprecated since 1.17 with removal
    // announced for 1.20, so the exact release is the least certain of this table.
    ("rbac.authorization.k8s.io/v1alpha1", "ClusterRole", (1, 23), RBAC_V1),
    ("rbac.authorization.k8s.io/v1alpha1", "ClusterRoleBinding", (1, 23), RBAC_V1),
    ("rbac.authorization.k8s.io/v1alpha1", "Role", (1, 23), RBAC_V1),
    ("rbac.authorization.k8s.io/v1alpha1", "RoleBinding", (1, 23), RBAC_V1),
    ("rbac.authorization.k8s.io/v1alpha1", ANY_KIND, (1, 23), RBAC_V1),
    ("scheduling.k8s.io/v1alpha1", "PriorityClass", (1, 23), Some("scheduling.k8s.io/v1")),
    // --- v1.25 -----------------------------------------------------------------------------
    ("batch/v1beta1", "CronJob", (1, 25), Some("batch/v1")),
    ("discovery.k8s.io/v1beta1", "EndpointSlice", (1, 25), Some("discovery.k8s.io/v1")),
    ("events.k8s.io/v1beta1", "Event", (1, 25), Some("events.k8s.io/v1")),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler", (1, 25), Some("autoscaling/v2")),
    ("policy/v1beta1", "PodDisruptionBudget", (1, 25), Some("policy/v1")),
    ("policy/v1beta1", "PodSecurityPolicy", (1, 25), None),
    ("node.k8s.io/v1beta1", "RuntimeClass", (1, 25), Some("node.k8s.io/v1")),
    // --- v1.26 -----------------------------------------------------------------------------
    // The guide says v1beta3 (then current); v1beta3 is gone since 1.32, v1 is served since 1.29.
    ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", (1, 26), FLOWCONTROL_V1),
    ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration", (1, 26), FLOWCONTROL_V1),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", (1, 26), Some("autoscaling/v2")),
    // --- v1.27 -----------------------------------------------------------------------------
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", (1, 27), STORAGE_V1),
    // --- v1.29 -----------------------------------------------------------------------------
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", (1, 29), FLOWCONTROL_V1),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration", (1, 29), FLOWCONTROL_V1),
    // --- v1.32 -----------------------------------------------------------------------------
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", (1, 32), FLOWCONTROL_V1),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration", (1, 32), FLOWCONTROL_V1),
    // --- v1.34 (k8s-openapi: present in 1.33, absent from 1.34) -------------------------------
    ("admissionregistration.k8s.io/v1beta1", "ValidatingAdmissionPolicy", (1, 34), Some("admissionregistration.k8s.io/v1")),
    ("admissionregistration.k8s.io/v1beta1", "ValidatingAdmissionPolicyBinding", (1, 34), Some("admissionregistration.k8s.io/v1")),
    ("resource.k8s.io/v1alpha3", "DeviceClass", (1, 34), RESOURCE_V1),
    ("resource.k8s.io/v1alpha3", "ResourceClaim", (1, 34), RESOURCE_V1),
    ("resource.k8s.io/v1alpha3", "ResourceClaimTemplate", (1, 34), RESOURCE_V1),
    ("resource.k8s.io/v1alpha3", "ResourceSlice", (1, 34), RESOURCE_V1),
    // --- v1.35 (k8s-openapi: present in 1.34, absent from 1.35) -------------------------------
    // certificates.k8s.io/v1 serves it only from 1.37; v1beta1 from 1.35.
    ("certificates.k8s.io/v1alpha1", "PodCertificateRequest", (1, 35), Some("certificates.k8s.io/v1beta1")),
    ("storage.k8s.io/v1alpha1", "VolumeAttributesClass", (1, 35), STORAGE_V1),
    // storagemigration.k8s.io/v1 serves it only from 1.37; v1beta1 from 1.35.
    ("storagemigration.k8s.io/v1alpha1", "StorageVersionMigration", (1, 35), Some("storagemigration.k8s.io/v1beta1")),
    // --- v1.36 (k8s-openapi: present in 1.35, absent from 1.36) -------------------------------
    // Alpha that moved twice: 1.36 serves it as scheduling.k8s.io/v1alpha2, 1.37 as v1beta1 (and
    // v1alpha3).
    ("scheduling.k8s.io/v1alpha1", "Workload", (1, 36), SCHEDULING_V1BETA1),
    // --- v1.37 (k8s-openapi: present in 1.36, absent from 1.37) -------------------------------
    ("certificates.k8s.io/v1alpha1", "ClusterTrustBundle", (1, 37), Some("certificates.k8s.io/v1")),
    ("networking.k8s.io/v1beta1", "IPAddress", (1, 37), NETWORKING_V1),
    ("networking.k8s.io/v1beta1", "ServiceCIDR", (1, 37), NETWORKING_V1),
    ("storage.k8s.io/v1beta1", "VolumeAttributesClass", (1, 37), STORAGE_V1),
    ("scheduling.k8s.io/v1alpha2", "PodGroup", (1, 37), SCHEDULING_V1BETA1),
    ("scheduling.k8s.io/v1alpha2", "Workload", (1, 37), SCHEDULING_V1BETA1),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_removed_kinds() {
        assert_eq!(
            lookup("extensions/v1beta1", "Deployment"),
            Some(Removal {
                removed_in: (1, 16),
                replacement: Some("apps/v1"),
            })
        );
        assert_eq!(
            lookup("networking.k8s.io/v1beta1", "Ingress"),
            Some(Removal {
                removed_in: (1, 22),
                replacement: Some("networking.k8s.io/v1"),
            })
        );
        assert_eq!(
            lookup("batch/v1beta1", "CronJob").map(|r| r.removed_in),
            Some((1, 25))
        );
        assert_eq!(
            lookup("autoscaling/v2beta2", "HorizontalPodAutoscaler"),
            Some(Removal {
                removed_in: (1, 26),
                replacement: Some("autoscaling/v2"),
            })
        );
        assert_eq!(
            lookup("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema"),
            Some(Removal {
                removed_in: (1, 32),
                replacement: Some("flowcontrol.apiserver.k8s.io/v1"),
            })
        );
        assert_eq!(
            lookup("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition")
                .and_then(|r| r.replacement),
            Some("apiextensions.k8s.io/v1")
        );
    }

    #[test]
    fn whole_group_versions_match_any_kind() {
        assert_eq!(
            lookup("apps/v1beta1", "Scale"),
            Some(Removal {
                removed_in: (1, 16),
                replacement: Some("apps/v1"),
            })
        );
        assert_eq!(
            lookup("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding")
                .unwrap()
                .removed_in,
            (1, 22)
        );
        assert_eq!(
            lookup("rbac.authorization.k8s.io/v1alpha1", "Whatever")
                .unwrap()
                .removed_in,
            (1, 23)
        );
        // Exact entries win over the wildcard; other group versions have no wildcard.
        assert_eq!(lookup("extensions/v1beta1", "Foo"), None);
        assert_eq!(lookup("policy/v1beta1", "Eviction"), None);
    }

    #[test]
    fn advice() {
        assert_eq!(
            lookup("batch/v1beta1", "CronJob").unwrap().advice(),
            "use `batch/v1`"
        );
        assert!(
            lookup("policy/v1beta1", "PodSecurityPolicy")
                .unwrap()
                .advice()
                .contains("Pod Security Admission")
        );
    }

    #[test]
    fn pod_security_policy_has_no_replacement() {
        for api_version in ["policy/v1beta1", "extensions/v1beta1"] {
            let removal = lookup(api_version, "PodSecurityPolicy").expect(api_version);
            assert_eq!(removal.replacement, None, "{api_version}");
        }
        assert_eq!(
            lookup("policy/v1beta1", "PodSecurityPolicy")
                .unwrap()
                .removed_in,
            (1, 25)
        );
    }

    #[test]
    fn served_and_unknown_kinds_are_not_removed() {
        assert_eq!(lookup("apps/v1", "Deployment"), None);
        assert_eq!(lookup("v1", "Pod"), None);
        assert_eq!(lookup("policy/v1", "PodDisruptionBudget"), None);
        assert_eq!(lookup("networking.k8s.io/v1", "Ingress"), None);
        assert_eq!(lookup("example.com/v1beta1", "Ingress"), None);
        // Exact comparison, like the API server.
        assert_eq!(lookup("extensions/v1beta1", "deployment"), None);
        assert_eq!(lookup("Extensions/v1beta1", "Deployment"), None);
        assert_eq!(lookup("", ""), None);
    }

    #[test]
    fn table_is_consistent() {
        for (i, (api_version, kind, removed_in, replacement)) in REMOVED.iter().enumerate() {
            assert!(
                REMOVED[..i]
                    .iter()
                    .all(|other| (other.0, other.1) != (*api_version, *kind)),
                "duplicate entry {api_version} {kind}"
            );
            assert!(
                (1, 16) <= *removed_in && *removed_in <= (1, 37),
                "{api_version} {kind}: {removed_in:?}"
            );
            assert!(api_version.contains('/'), "{api_version} has no group");
            if let Some(replacement) = replacement {
                assert_ne!(replacement, api_version, "{kind}");
                // The advice must not point at something that is itself removed.
                if *kind != ANY_KIND {
                    assert_eq!(
                        lookup(replacement, kind),
                        None,
                        "{api_version} {kind} → {replacement} is removed too"
                    );
                }
            }
        }
        // Grouped by release, oldest first.
        assert!(REMOVED.windows(2).all(|pair| pair[0].2 <= pair[1].2));
    }
}
