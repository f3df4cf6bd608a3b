//! Built-in API versions that Kubernetes removed, from the official Deprecated API Migration
//! Guide (kubernetes.io/docs/reference/using-api/deprecation-guide/).

/// Where a removed API went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    /// The Kubernetes release that stopped serving it.
    pub removed_in: (u32, u32),
    /// The `apiVersion` to use instead, or `None` when the kind itself is gone.
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

/// `(apiVersion, kinds or "*" for every kind, removed in, replacement)`.
/// A `None` replacement means the kind itself was removed.
type Entry = (
    &'static str,
    &'static [&'static str],
    (u32, u32),
    Option<&'static str>,
);

const TABLE: &[Entry] = &[
    // 1.16
    (
        "extensions/v1beta1",
        &["Deployment", "DaemonSet", "ReplicaSet"],
        (1, 16),
        Some("apps/v1"),
    ),
    (
        "extensions/v1beta1",
        &["NetworkPolicy"],
        (1, 16),
        Some("networking.k8s.io/v1"),
    ),
    (
        "extensions/v1beta1",
        &["PodSecurityPolicy"],
        (1, 16),
        Some("policy/v1beta1"),
    ),
    ("apps/v1beta1", &["*"], (1, 16), Some("apps/v1")),
    ("apps/v1beta2", &["*"], (1, 16), Some("apps/v1")),
    // 1.22
    (
        "extensions/v1beta1",
        &["Ingress"],
        (1, 22),
        Some("networking.k8s.io/v1"),
    ),
    (
        "networking.k8s.io/v1beta1",
        &["Ingress", "IngressClass"],
        (1, 22),
        Some("networking.k8s.io/v1"),
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
        (1, 22),
        Some("admissionregistration.k8s.io/v1"),
    ),
    (
        "apiextensions.k8s.io/v1beta1",
        &["CustomResourceDefinition"],
        (1, 22),
        Some("apiextensions.k8s.io/v1"),
    ),
    (
        "apiregistration.k8s.io/v1beta1",
        &["APIService"],
        (1, 22),
        Some("apiregistration.k8s.io/v1"),
    ),
    (
        "authentication.k8s.io/v1beta1",
        &["TokenReview"],
        (1, 22),
        Some("authentication.k8s.io/v1"),
    ),
    (
        "authorization.k8s.io/v1beta1",
        &["*"],
        (1, 22),
        Some("authorization.k8s.io/v1"),
    ),
    (
        "certificates.k8s.io/v1beta1",
        &["CertificateSigningRequest"],
        (1, 22),
        Some("certificates.k8s.io/v1"),
    ),
    (
        "coordination.k8s.io/v1beta1",
        &["Lease"],
        (1, 22),
        Some("coordination.k8s.io/v1"),
    ),
    (
        "rbac.authorization.k8s.io/v1beta1",
        &["*"],
        (1, 22),
        Some("rbac.authorization.k8s.io/v1"),
    ),
    (
        "rbac.authorization.k8s.io/v1alpha1",
        &["*"],
        (1, 22),
        Some("rbac.authorization.k8s.io/v1"),
    ),
    (
        "scheduling.k8s.io/v1beta1",
        &["PriorityClass"],
        (1, 22),
        Some("scheduling.k8s.io/v1"),
    ),
    (
        "scheduling.k8s.io/v1alpha1",
        &["PriorityClass"],
        (1, 22),
        Some("scheduling.k8s.io/v1"),
    ),
    (
        "storage.k8s.io/v1beta1",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
        (1, 22),
        Some("storage.k8s.io/v1"),
    ),
    // 1.25
    ("batch/v1beta1", &["CronJob"], (1, 25), Some("batch/v1")),
    (
        "discovery.k8s.io/v1beta1",
        &["EndpointSlice"],
        (1, 25),
        Some("discovery.k8s.io/v1"),
    ),
    (
        "events.k8s.io/v1beta1",
        &["Event"],
        (1, 25),
        Some("events.k8s.io/v1"),
    ),
    (
        "autoscaling/v2beta1",
        &["HorizontalPodAutoscaler"],
        (1, 25),
        Some("autoscaling/v2"),
    ),
    (
        "policy/v1beta1",
        &["PodDisruptionBudget"],
        (1, 25),
        Some("policy/v1"),
    ),
    ("policy/v1beta1", &["PodSecurityPolicy"], (1, 25), None),
    (
        "node.k8s.io/v1beta1",
        &["RuntimeClass"],
        (1, 25),
        Some("node.k8s.io/v1"),
    ),
    // 1.26
    (
        "flowcontrol.apiserver.k8s.io/v1beta1",
        &["FlowSchema", "PriorityLevelConfiguration"],
        (1, 26),
        Some("flowcontrol.apiserver.k8s.io/v1"),
    ),
    (
        "autoscaling/v2beta2",
        &["HorizontalPodAutoscaler"],
        (1, 26),
        Some("autoscaling/v2"),
    ),
    // 1.27
    (
        "storage.k8s.io/v1beta1",
        &["CSIStorageCapacity"],
        (1, 27),
        Some("storage.k8s.io/v1"),
    ),
    // 1.29
    (
        "flowcontrol.apiserver.k8s.io/v1beta2",
        &["FlowSchema", "PriorityLevelConfiguration"],
        (1, 29),
        Some("flowcontrol.apiserver.k8s.io/v1"),
    ),
    // 1.32
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        &["FlowSchema", "PriorityLevelConfiguration"],
        (1, 32),
        Some("flowcontrol.apiserver.k8s.io/v1"),
    ),
];

/// The removal of `kind` under `api_version`, if Kubernetes removed it.
pub fn lookup(api_version: &str, kind: &str) -> Option<Removal> {
    TABLE
        .iter()
        .find(|(v, kinds, _, _)| *v == api_version && (kinds.contains(&kind) || kinds == &["*"]))
        .map(|&(_, _, removed_in, replacement)| Removal {
            removed_in,
            replacement,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_removals() {
        let r = lookup("extensions/v1beta1", "Deployment").unwrap();
        assert_eq!(r.removed_in, (1, 16));
        assert_eq!(r.replacement, Some("apps/v1"));
        let r = lookup("policy/v1beta1", "PodDisruptionBudget").unwrap();
        assert_eq!((r.removed_in, r.replacement), ((1, 25), Some("policy/v1")));
        let psp = lookup("policy/v1beta1", "PodSecurityPolicy").unwrap();
        assert_eq!(psp.replacement, None);
        assert!(psp.advice().contains("Pod Security Admission"));
        assert_eq!(
            lookup("apps/v1beta2", "StatefulSet").unwrap().removed_in,
            (1, 16)
        );
        assert_eq!(
            lookup("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding")
                .unwrap()
                .removed_in,
            (1, 22)
        );
    }

    #[test]
    fn current_apis_are_not_removed() {
        assert_eq!(lookup("apps/v1", "Deployment"), None);
        assert_eq!(lookup("policy/v1", "PodDisruptionBudget"), None);
        assert_eq!(lookup("extensions/v1beta1", "Foo"), None);
    }
}
