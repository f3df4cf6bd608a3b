//! kustomize's name references: once prefixes, suffixes, namespaces and hashes have renamed
//! objects, every field that names one of them (a ConfigMap in `envFrom`, a Role in
//! `roleRef`, a ServiceAccount in a binding's `subjects`) is rewritten to the new name, as
//! kustomize's `FixBackReferences` does at the end of a build.
//!
//! [`BACKREFS`] is kustomize v5.7.1's builtin name-reference configuration
//! (`api/internal/konfig/builtinpluginconsts/namereference.go`), transcribed by a script
//! into this table; the parity suite checks the result against `kubectl kustomize`.

use std::collections::HashMap;

use super::fieldpath::{segments, visit};
use super::node::{Kind, Node, Origin};
use super::resource::{Gvk, ResId, Resource};
use super::{Error, Result};

/// The fields of `referrers` (group, version, kind, path) that name objects of `target`
/// (group, version, kind).
#[derive(Debug)]
pub struct Backref {
    pub target: (&'static str, &'static str, &'static str),
    pub referrers: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

/// kustomize v5.7.1's builtin name references.
pub const BACKREFS: &[Backref] = &[
    Backref {
        target: ("", "", "Deployment"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    Backref {
        target: ("", "", "ReplicationController"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    Backref {
        target: ("", "", "ReplicaSet"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    Backref {
        target: ("", "", "StatefulSet"),
        referrers: &[(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
        )],
    },
    Backref {
        target: ("", "v1", "ConfigMap"),
        referrers: &[
            ("", "v1", "Pod", "spec/volumes/configMap/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            ("", "v1", "Pod", "spec/containers/envFrom/configMapRef/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "v1",
                "Pod",
                "spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            ("", "", "Job", "spec/template/spec/volumes/configMap/name"),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/configMap/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/projected/sources/configMap/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/envFrom/configMapRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/envFrom/configMapRef/name",
            ),
            ("", "", "Node", "spec/configSource/configMap"),
            ("", "", "Role", "rules/resourceNames"),
            ("", "", "ClusterRole", "rules/resourceNames"),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
            ),
        ],
    },
    Backref {
        target: ("", "v1", "Secret"),
        referrers: &[
            ("", "v1", "Pod", "spec/volumes/secret/secretName"),
            (
                "",
                "v1",
                "Pod",
                "spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            ("", "v1", "Pod", "spec/containers/envFrom/secretRef/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/initContainers/envFrom/secretRef/name",
            ),
            ("", "v1", "Pod", "spec/imagePullSecrets/name"),
            (
                "",
                "v1",
                "Pod",
                "spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/initContainers/envFrom/secretRef/name",
            ),
            ("", "", "PodTemplate", "template/spec/imagePullSecrets/name"),
            (
                "",
                "",
                "PodTemplate",
                "template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "ReplicaSet",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/imagePullSecrets/name",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            ("", "", "Job", "spec/template/spec/imagePullSecrets/name"),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/secret/secretName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/projected/sources/secret/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/containers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/initContainers/envFrom/secretRef/name",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/imagePullSecrets/name",
            ),
            ("", "", "Ingress", "spec/tls/secretName"),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            ),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            ),
            (
                "",
                "",
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            ),
            ("", "", "Ingress", "spec/tls/secretName"),
            ("", "", "ServiceAccount", "imagePullSecrets/name"),
            ("", "", "StorageClass", "parameters/secretName"),
            ("", "", "StorageClass", "parameters/adminSecretName"),
            ("", "", "StorageClass", "parameters/userSecretName"),
            ("", "", "StorageClass", "parameters/secretRef"),
            ("", "", "Role", "rules/resourceNames"),
            ("", "", "ClusterRole", "rules/resourceNames"),
            (
                "serving.knative.dev",
                "v1",
                "Service",
                "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            ),
            ("", "", "PersistentVolume", "spec/azureFile/secretName"),
        ],
    },
    Backref {
        target: ("", "v1", "Service"),
        referrers: &[
            ("apps", "", "StatefulSet", "spec/serviceName"),
            (
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/serviceName",
            ),
            ("", "", "Ingress", "spec/backend/serviceName"),
            (
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/service/name",
            ),
            ("", "", "Ingress", "spec/defaultBackend/service/name"),
            (
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/name",
            ),
            (
                "admissionregistration.k8s.io",
                "",
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
            (
                "admissionregistration.k8s.io",
                "",
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            ),
        ],
    },
    Backref {
        target: ("rbac.authorization.k8s.io", "", "Role"),
        referrers: &[(
            "rbac.authorization.k8s.io",
            "",
            "RoleBinding",
            "roleRef/name",
        )],
    },
    Backref {
        target: ("rbac.authorization.k8s.io", "", "ClusterRole"),
        referrers: &[
            (
                "rbac.authorization.k8s.io",
                "",
                "RoleBinding",
                "roleRef/name",
            ),
            (
                "rbac.authorization.k8s.io",
                "",
                "ClusterRoleBinding",
                "roleRef/name",
            ),
        ],
    },
    Backref {
        target: ("", "v1", "ServiceAccount"),
        referrers: &[
            ("rbac.authorization.k8s.io", "", "RoleBinding", "subjects"),
            (
                "rbac.authorization.k8s.io",
                "",
                "ClusterRoleBinding",
                "subjects",
            ),
            ("", "", "Pod", "spec/serviceAccountName"),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/serviceAccountName",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/serviceAccountName",
            ),
            (
                "",
                "",
                "ReplicationController",
                "spec/template/spec/serviceAccountName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/serviceAccountName",
            ),
            ("", "", "Job", "spec/template/spec/serviceAccountName"),
            ("", "", "DaemonSet", "spec/template/spec/serviceAccountName"),
        ],
    },
    Backref {
        target: ("", "v1", "PersistentVolumeClaim"),
        referrers: &[
            (
                "",
                "",
                "Pod",
                "spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "Deployment",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "ReplicationController",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "Job",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
            (
                "",
                "",
                "DaemonSet",
                "spec/template/spec/volumes/persistentVolumeClaim/claimName",
            ),
        ],
    },
    Backref {
        target: ("", "v1", "PersistentVolume"),
        referrers: &[
            ("", "", "PersistentVolumeClaim", "spec/volumeName"),
            ("", "", "ClusterRole", "rules/resourceNames"),
        ],
    },
    Backref {
        target: ("storage.k8s.io", "v1", "StorageClass"),
        referrers: &[
            ("", "", "PersistentVolume", "spec/storageClassName"),
            ("", "", "PersistentVolumeClaim", "spec/storageClassName"),
            (
                "",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
            ),
        ],
    },
    Backref {
        target: ("scheduling.k8s.io", "v1", "PriorityClass"),
        referrers: &[
            ("", "", "Pod", "spec/priorityClassName"),
            (
                "",
                "",
                "StatefulSet",
                "spec/template/spec/priorityClassName",
            ),
            ("", "", "Deployment", "spec/template/spec/priorityClassName"),
            (
                "",
                "",
                "ReplicationController",
                "spec/template/spec/priorityClassName",
            ),
            (
                "",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/spec/priorityClassName",
            ),
            ("", "", "Job", "spec/template/spec/priorityClassName"),
            ("", "", "DaemonSet", "spec/template/spec/priorityClassName"),
        ],
    },
    Backref {
        target: ("networking.k8s.io/v1", "v1", "IngressClass"),
        referrers: &[("", "", "Ingress", "spec/ingressClassName")],
    },
    Backref {
        target: (
            "admissionregistration.k8s.io",
            "",
            "ValidatingAdmissionPolicy",
        ),
        referrers: &[(
            "admissionregistration.k8s.io",
            "",
            "ValidatingAdmissionPolicyBinding",
            "spec/policyName",
        )],
    },
];

/// Rewrites every name reference of `resources` to the current name of the object it
/// refers to, at the fields `backrefs` name (the root's configuration's `nameReference`:
/// [`BACKREFS`] and any `configurations` of the tree).
pub fn fix_back_references(
    resources: &mut [Resource],
    backrefs: &[super::config::NameBackRefs],
) -> Result<()> {
    let snapshot: Vec<Candidate> = resources.iter().map(Candidate::of).collect();
    for (i, r) in resources.iter_mut().enumerate() {
        let org = r.original_id();
        let referrer = &snapshot[i];
        // Found only for an object with a field to rewrite: most have none, and looking
        // through every other object for each of them made a large root quadratic.
        let mut candidates: Option<Vec<&Candidate>> = None;
        for backref in backrefs {
            let target = &backref.target;
            for spec in &backref.referrers {
                if !spec.selects(&org.gvk) {
                    continue;
                }
                let candidates = candidates
                    .get_or_insert_with(|| could_be_referenced_by(referrer, &r.node, &snapshot));
                let path = &spec.path;
                let role_ref = path
                    .ends_with("roleRef/name")
                    .then(|| role_ref_gvk(&r.node))
                    .flatten();
                let select = Select {
                    target,
                    referrer,
                    role_ref: role_ref.as_ref(),
                };
                visit(&mut r.node, &segments(path), None, &mut |n| {
                    select.set(n, candidates)
                })
                .map_err(|e| Error {
                    message: format!(
                        "updating name reference in '{path}' field of '{}': {}",
                        referrer.id.show(),
                        e.message
                    ),
                    ..e
                })?;
            }
        }
    }
    Ok(())
}

/// What name resolution needs of an object, taken before any reference is rewritten.
#[derive(Debug, Clone)]
struct Candidate {
    id: ResId,
    /// Whether its kind is cluster-scoped, and its namespace as kustomize compares it
    /// ([`ResId::effective_namespace`]): looked up once, not for every pair.
    cluster_scoped: bool,
    effective_namespace: String,
    previous: Vec<ResId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    name_origin: Origin,
}

impl Candidate {
    fn of(r: &Resource) -> Self {
        let id = r.id();
        Self {
            cluster_scoped: id.gvk.is_cluster_scoped(),
            effective_namespace: id.effective_namespace().to_owned(),
            id,
            previous: r.previous.clone(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
            name_origin: r
                .node
                .path(&["metadata", "name"])
                .map_or(r.node.origin, |n| n.origin),
        }
    }
}

/// kustomize's `SubsetThatCouldBeReferencedByResource`: cluster-scoped objects refer to
/// anything and are referred to by anything; others within their namespace, and a
/// RoleBinding also in the namespaces of its ServiceAccount subjects.
fn could_be_referenced_by<'a>(
    referrer: &Candidate,
    node: &Node,
    all: &'a [Candidate],
) -> Vec<&'a Candidate> {
    if referrer.cluster_scoped {
        return all.iter().collect();
    }
    let mut binding_namespaces: HashMap<&str, ()> = HashMap::new();
    if referrer.id.gvk.kind == "RoleBinding"
        && let Some(subjects) = node.get("subjects").and_then(Node::as_seq)
    {
        for s in subjects {
            if s.get("kind").and_then(Node::as_str) == Some("ServiceAccount")
                && let Some(ns) = s.get("namespace").and_then(Node::as_str)
            {
                binding_namespaces.insert(ns, ());
            }
        }
    }
    all.iter()
        .filter(|c| {
            c.cluster_scoped
                || c.effective_namespace == referrer.effective_namespace
                || binding_namespaces.contains_key(c.id.namespace.as_str())
        })
        .collect()
}

/// The group and kind a binding's `roleRef` names.
fn role_ref_gvk(node: &Node) -> Option<Gvk> {
    let r = node.get("roleRef")?;
    Some(Gvk {
        group: r.get("apiGroup")?.as_str()?.to_owned(),
        version: String::new(),
        kind: r.get("kind")?.as_str()?.to_owned(),
    })
}

struct Select<'a> {
    target: &'a Gvk,
    referrer: &'a Candidate,
    role_ref: Option<&'a Gvk>,
}

impl Select<'_> {
    /// Rewrites the reference at `n`: a name, a list of names, a `{name, namespace}`
    /// mapping or a list of them.
    fn set(&self, n: &mut Node, candidates: &[&Candidate]) -> Result<()> {
        match &mut n.kind {
            Kind::Null => Ok(()),
            Kind::String(_) | Kind::Number(_) | Kind::Bool(_) => self.set_scalar(n, candidates),
            Kind::Map(_) => self.set_mapping(n, candidates),
            Kind::Seq(items) => {
                for item in items {
                    match item.kind {
                        Kind::Map(_) => self.set_mapping(item, candidates)?,
                        Kind::Seq(_) => {}
                        _ => self.set_scalar(item, candidates)?,
                    }
                }
                Ok(())
            }
        }
    }

    fn set_scalar(&self, n: &mut Node, candidates: &[&Candidate]) -> Result<()> {
        let Some(old) = n.as_str().map(str::to_owned) else {
            return Ok(());
        };
        let Some(referral) = self.select(&old, candidates.to_vec(), false, n.origin)? else {
            return Ok(());
        };
        if referral.id.name != old {
            let key = n.origin.key;
            n.kind = Kind::String(referral.id.name.clone());
            n.origin = Origin {
                key,
                ..referral.name_origin
            };
        }
        Ok(())
    }

    fn set_mapping(&self, n: &mut Node, candidates: &[&Candidate]) -> Result<()> {
        let Some(old) = n.get("name").and_then(Node::as_str).map(str::to_owned) else {
            return Err(Error::new(
                "path config error; no 'name' field in node",
                n.origin,
            ));
        };
        let pool: Vec<&Candidate> = match n.get("namespace").and_then(Node::as_str) {
            None => candidates.to_vec(),
            Some(ns) => {
                let by_original: Vec<&Candidate> = candidates
                    .iter()
                    .copied()
                    .filter(|c| {
                        c.previous
                            .first()
                            .map_or(c.id.namespace.as_str(), |p| p.namespace.as_str())
                            == ns
                    })
                    .collect();
                if by_original.is_empty() {
                    candidates
                        .iter()
                        .copied()
                        .filter(|c| c.id.namespace == ns)
                        .collect()
                } else {
                    by_original
                }
            }
        };
        let Some(referral) = self.select(&old, pool, true, n.origin)? else {
            return Ok(());
        };
        if referral.id.name == old && referral.id.namespace.is_empty() {
            return Ok(());
        }
        let origin = referral.name_origin;
        if let Some(name) = n.get_mut("name") {
            let key = name.origin.key;
            name.kind = Kind::String(referral.id.name.clone());
            name.origin = Origin { key, ..origin };
        }
        if !referral.id.namespace.is_empty()
            && let Kind::Map(m) = &mut n.kind
        {
            let key = m.get("namespace").and_then(|x| x.origin.key);
            m.insert(
                "namespace".to_owned(),
                Node::new(
                    Kind::String(referral.id.namespace.clone()),
                    Origin { key, ..origin },
                ),
            );
        }
        Ok(())
    }

    /// kustomize's `selectReferral`: by previous name, target kind, roleRef kind and
    /// namespace; then by prefixes and suffixes; identical names (and namespaces) are one.
    fn select<'c>(
        &self,
        old: &str,
        candidates: Vec<&'c Candidate>,
        with_namespace: bool,
        at: Origin,
    ) -> Result<Option<&'c Candidate>> {
        let referrer_cluster = self.referrer.cluster_scoped;
        let mut c: Vec<&Candidate> = candidates
            .into_iter()
            .filter(|c| c.previous.iter().any(|p| p.name == old))
            .filter(|c| {
                c.previous.iter().any(|p| {
                    p.gvk
                        .selected_by(&self.target.group, &self.target.version, &self.target.kind)
                })
            })
            .filter(|c| {
                self.role_ref.is_none_or(|g| {
                    c.previous
                        .iter()
                        .any(|p| p.gvk.selected_by(&g.group, &g.version, &g.kind))
                })
            })
            .filter(|c| {
                referrer_cluster
                    || c.cluster_scoped
                    || c.id.gvk.kind == "ServiceAccount"
                    || c.effective_namespace == self.referrer.effective_namespace
            })
            .collect();
        if c.len() == 1 {
            return Ok(Some(c[0]));
        }
        c.retain(|c| affixes_equal(c, self.referrer, true));
        if c.len() > 1 {
            c.retain(|c| affixes_equal(c, self.referrer, false));
        }
        match c.len() {
            0 => Ok(None),
            1 => Ok(Some(c[0])),
            _ => {
                let first = &c[0].id;
                let identical = c.iter().all(|x| {
                    x.id.name == first.name
                        && (!with_namespace || x.id.namespace == first.namespace)
                });
                if identical {
                    return Ok(Some(c[0]));
                }
                let ids: Vec<String> = c.iter().map(|x| x.id.show()).collect();
                Err(Error::new(
                    format!("found multiple possible referrals: {}", ids.join(", ")),
                    at,
                ))
            }
        }
    }
}

/// kustomize's `PrefixesSuffixesEquals`.
fn affixes_equal(r: &Candidate, o: &Candidate, allow_empty: bool) -> bool {
    // kustomize's `SameEndingSubSlice`: one ends like the other; empty only matches empty.
    let same_end = |a: &[String], b: &[String]| {
        let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
        if short.is_empty() {
            return long.is_empty();
        }
        long[long.len() - short.len()..] == *short
    };
    if allow_empty {
        (r.prefixes.is_empty() || o.prefixes.is_empty() || same_end(&r.prefixes, &o.prefixes))
            && (r.suffixes.is_empty()
                || o.suffixes.is_empty()
                || same_end(&r.suffixes, &o.suffixes))
    } else {
        same_end(&r.prefixes, &o.prefixes) && same_end(&r.suffixes, &o.suffixes)
    }
}
