//! `enum` constraints for string fields.
//!
//! Upstream Kubernetes OpenAPI descriptions of enum-typed fields (Go types marked `+enum`) end with
//!
//! ```text
//! Possible enum values:
//!  - `"Always"` means that ...
//!  - `"IfNotPresent"` means that ...
//! ```
//!
//! k8s-openapi 0.29 strips that section from its descriptions, so [`add_from_description`] finds
//! nothing today; it is kept so that the enums appear automatically should a later k8s-openapi
//! keep them. Until then, [`CURATED`] lists the enum fields by hand, and every entry is checked
//! against the field's description at generation time: the field must exist (if its definition
//! does) and each value must be mentioned in its description, otherwise generation fails.

use serde_json::{Map, Value};

const MARKER: &str = "Possible enum values:";

/// Parses the values listed after "Possible enum values:" in an upstream description.
pub fn parse_description(description: &str) -> Option<Vec<String>> {
    let (_, list) = description.split_once(MARKER)?;
    let mut values = Vec::new();
    for line in list.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(rest) = line.strip_prefix("- `\"") else {
            break;
        };
        let (value, _) = rest.split_once("\"`")?;
        values.push(value.to_owned());
    }
    if values.is_empty() {
        None
    } else {
        values.sort();
        values.dedup();
        Some(values)
    }
}

/// Adds `enum` to a string schema (or to the string items of an array schema) whose description
/// carries the upstream "Possible enum values" list. Returns whether it did.
pub fn add_from_description(node: &mut Map<String, Value>) -> bool {
    let Some(values) = node
        .get("description")
        .and_then(Value::as_str)
        .and_then(parse_description)
    else {
        return false;
    };
    let target = match node.get("type").and_then(Value::as_str) {
        Some("string") => node,
        Some("array") => match node.get_mut("items").and_then(Value::as_object_mut) {
            Some(items) if items.get("type").and_then(Value::as_str) == Some("string") => items,
            _ => return false,
        },
        _ => return false,
    };
    if target.contains_key("enum") {
        return false;
    }
    target.insert(
        "enum".into(),
        Value::Array(values.into_iter().map(Value::String).collect()),
    );
    true
}

/// Where the enum goes: on the property itself, or on the items of an array property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    Value,
    Items,
}

/// Hand-maintained enum fields: definition, property, placement, allowed values (sorted).
///
/// Only Go types marked `+enum` upstream (i.e. fields whose upstream OpenAPI description carries
/// "Possible enum values"), with the exact upstream value set, and only where every value is also
/// named in the k8s-openapi description. Deliberately absent: `Toleration.effect` (the empty
/// string means "all effects" but is not in the upstream enum), `Container.restartPolicy` (values
/// differ by version and container type), `LabelSelectorRequirement.operator` (not an upstream
/// enum).
#[rustfmt::skip]
pub const CURATED: &[(&str, &str, On, &[&str])] = &[
    // core/v1
    ("io.k8s.api.core.v1.Container", "imagePullPolicy", On::Value, &["Always", "IfNotPresent", "Never"]),
    ("io.k8s.api.core.v1.Container", "terminationMessagePolicy", On::Value, &["FallbackToLogsOnError", "File"]),
    ("io.k8s.api.core.v1.EphemeralContainer", "imagePullPolicy", On::Value, &["Always", "IfNotPresent", "Never"]),
    ("io.k8s.api.core.v1.EphemeralContainer", "terminationMessagePolicy", On::Value, &["FallbackToLogsOnError", "File"]),
    ("io.k8s.api.core.v1.ContainerPort", "protocol", On::Value, &["SCTP", "TCP", "UDP"]),
    ("io.k8s.api.core.v1.ServicePort", "protocol", On::Value, &["SCTP", "TCP", "UDP"]),
    ("io.k8s.api.core.v1.EndpointPort", "protocol", On::Value, &["SCTP", "TCP", "UDP"]),
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol", On::Value, &["SCTP", "TCP", "UDP"]),
    ("io.k8s.api.networking.v1.NetworkPolicyPort", "protocol", On::Value, &["SCTP", "TCP", "UDP"]),
    ("io.k8s.api.core.v1.PodSpec", "restartPolicy", On::Value, &["Always", "Never", "OnFailure"]),
    ("io.k8s.api.core.v1.PodSpec", "dnsPolicy", On::Value, &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]),
    ("io.k8s.api.core.v1.PodSpec", "preemptionPolicy", On::Value, &["Never", "PreemptLowerPriority"]),
    ("io.k8s.api.core.v1.ServiceSpec", "type", On::Value, &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]),
    ("io.k8s.api.core.v1.ServiceSpec", "sessionAffinity", On::Value, &["ClientIP", "None"]),
    ("io.k8s.api.core.v1.ServiceSpec", "externalTrafficPolicy", On::Value, &["Cluster", "Local"]),
    ("io.k8s.api.core.v1.ServiceSpec", "internalTrafficPolicy", On::Value, &["Cluster", "Local"]),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilyPolicy", On::Value, &["PreferDualStack", "RequireDualStack", "SingleStack"]),
    ("io.k8s.api.core.v1.ServiceSpec", "ipFamilies", On::Items, &["IPv4", "IPv6"]),
    ("io.k8s.api.core.v1.Toleration", "operator", On::Value, &["Equal", "Exists"]),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", "operator", On::Value, &["DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"]),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "persistentVolumeReclaimPolicy", On::Value, &["Delete", "Recycle", "Retain"]),
    ("io.k8s.api.core.v1.SeccompProfile", "type", On::Value, &["Localhost", "RuntimeDefault", "Unconfined"]),
    ("io.k8s.api.core.v1.AppArmorProfile", "type", On::Value, &["Localhost", "RuntimeDefault", "Unconfined"]),
    ("io.k8s.api.core.v1.PodSecurityContext", "fsGroupChangePolicy", On::Value, &["Always", "OnRootMismatch"]),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "whenUnsatisfiable", On::Value, &["DoNotSchedule", "ScheduleAnyway"]),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "nodeAffinityPolicy", On::Value, &["Honor", "Ignore"]),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "nodeTaintsPolicy", On::Value, &["Honor", "Ignore"]),
    // apps/v1
    ("io.k8s.api.apps.v1.DeploymentStrategy", "type", On::Value, &["Recreate", "RollingUpdate"]),
    ("io.k8s.api.apps.v1.DaemonSetUpdateStrategy", "type", On::Value, &["OnDelete", "RollingUpdate"]),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "podManagementPolicy", On::Value, &["OrderedReady", "Parallel"]),
    ("io.k8s.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy", "whenDeleted", On::Value, &["Delete", "Retain"]),
    ("io.k8s.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy", "whenScaled", On::Value, &["Delete", "Retain"]),
    // batch/v1
    ("io.k8s.api.batch.v1.CronJobSpec", "concurrencyPolicy", On::Value, &["Allow", "Forbid", "Replace"]),
    ("io.k8s.api.batch.v1.JobSpec", "completionMode", On::Value, &["Indexed", "NonIndexed"]),
    ("io.k8s.api.batch.v1.JobSpec", "podReplacementPolicy", On::Value, &["Failed", "TerminatingOrFailed"]),
    ("io.k8s.api.batch.v1.PodFailurePolicyRule", "action", On::Value, &["Count", "FailIndex", "FailJob", "Ignore"]),
    // networking.k8s.io/v1
    ("io.k8s.api.networking.v1.HTTPIngressPath", "pathType", On::Value, &["Exact", "ImplementationSpecific", "Prefix"]),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "policyTypes", On::Items, &["Egress", "Ingress"]),
    // policy/v1
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "unhealthyPodEvictionPolicy", On::Value, &["AlwaysAllow", "IfHealthyBudget"]),
    // autoscaling/v2
    ("io.k8s.api.autoscaling.v2.MetricSpec", "type", On::Value, &["ContainerResource", "External", "Object", "Pods", "Resource"]),
    ("io.k8s.api.autoscaling.v2.MetricTarget", "type", On::Value, &["AverageValue", "Utilization", "Value"]),
    // admissionregistration.k8s.io/v1
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "failurePolicy", On::Value, &["Fail", "Ignore"]),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "matchPolicy", On::Value, &["Equivalent", "Exact"]),
    ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "sideEffects", On::Value, &["None", "NoneOnDryRun", "Some", "Unknown"]),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "failurePolicy", On::Value, &["Fail", "Ignore"]),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "matchPolicy", On::Value, &["Equivalent", "Exact"]),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "sideEffects", On::Value, &["None", "NoneOnDryRun", "Some", "Unknown"]),
    ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "reinvocationPolicy", On::Value, &["IfNeeded", "Never"]),
    // storage.k8s.io/v1
];

/// Upstream enum fields whose k8s-openapi description does not name the values, so the
/// description cannot vouch for them. Values are the upstream Go constants of the `+enum` types
/// (`PersistentVolumeAccessMode`, `PersistentVolumeMode`, `URIScheme`, `ProcMountType`,
/// `MountPropagationMode`, `HostPathType`, `StatefulSetUpdateStrategyType`, `ScalingPolicySelect`,
/// `HPAScalingPolicyType`, `VolumeBindingMode`); only existence and type are checked.
#[rustfmt::skip]
pub const CURATED_UNDESCRIBED: &[(&str, &str, On, &[&str])] = &[
    ("io.k8s.api.core.v1.HTTPGetAction", "scheme", On::Value, &["HTTP", "HTTPS"]),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "volumeMode", On::Value, &["Block", "Filesystem"]),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "accessModes", On::Items, &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "volumeMode", On::Value, &["Block", "Filesystem"]),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", "accessModes", On::Items, &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]),
    ("io.k8s.api.core.v1.SecurityContext", "procMount", On::Value, &["Default", "Unmasked"]),
    ("io.k8s.api.core.v1.VolumeMount", "mountPropagation", On::Value, &["Bidirectional", "HostToContainer", "None"]),
    ("io.k8s.api.core.v1.HostPathVolumeSource", "type", On::Value, &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"]),
    ("io.k8s.api.apps.v1.StatefulSetUpdateStrategy", "type", On::Value, &["OnDelete", "RollingUpdate"]),
    ("io.k8s.api.autoscaling.v2.HPAScalingRules", "selectPolicy", On::Value, &["Disabled", "Max", "Min"]),
    ("io.k8s.api.autoscaling.v2.HPAScalingPolicy", "type", On::Value, &["Percent", "Pods"]),
    ("io.k8s.api.storage.v1.StorageClass", "volumeBindingMode", On::Value, &["Immediate", "WaitForFirstConsumer"]),
];

/// Applies [`CURATED`] and [`CURATED_UNDESCRIBED`] to the definitions present in this version;
/// returns how many enums were added. Fails if an entry no longer matches the schema or (for
/// [`CURATED`]) its description.
pub fn add_curated(defs: &mut Map<String, Value>) -> Result<usize, String> {
    let mut added = 0;
    let mut problems = Vec::new();
    let entries = CURATED
        .iter()
        .map(|entry| (entry, true))
        .chain(CURATED_UNDESCRIBED.iter().map(|entry| (entry, false)));
    for (&(def, property, on, values), described) in entries {
        let Some(schema) = defs.get_mut(def) else {
            continue; // kind not served in this version
        };
        match apply_curated(schema, property, on, values, described) {
            Ok(true) => added += 1,
            Ok(false) => {}
            Err(problem) => problems.push(format!("{def}.{property}: {problem}")),
        }
    }
    if problems.is_empty() {
        Ok(added)
    } else {
        Err(format!(
            "curated enums (xtask/src/enums.rs) do not match the schema:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// Adds one curated enum; `Ok(false)` if the description already provided the same one.
fn apply_curated(
    schema: &mut Value,
    property: &str,
    on: On,
    values: &[&str],
    described: bool,
) -> Result<bool, String> {
    let field = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut(property))
        .and_then(Value::as_object_mut)
        .ok_or("no such property")?;
    let description = field
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let missing: Vec<_> = values
        .iter()
        .filter(|v| described && !description.contains(**v))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "description does not mention {missing:?}: {description:?}"
        ));
    }
    let target = match on {
        On::Value => field,
        On::Items => field
            .get_mut("items")
            .and_then(Value::as_object_mut)
            .ok_or("not an array")?,
    };
    if target.get("type").and_then(Value::as_str) != Some("string") {
        return Err(format!("not a string field: {target:?}"));
    }
    let wanted = Value::Array(values.iter().map(|v| Value::from(*v)).collect());
    match target.get("enum") {
        // Already found in the description: it must agree.
        Some(existing) if *existing == wanted => Ok(false),
        Some(existing) => Err(format!("curated {wanted}, description says {existing}")),
        None => {
            target.insert("enum".into(), wanted);
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_upstream_enum_lists() {
        let description = "Image pull policy. One of Always, Never, IfNotPresent. Defaults to \
            Always if :latest tag is specified, or IfNotPresent otherwise.\n\nPossible enum \
            values:\n - `\"Always\"` means that kubelet always attempts to pull the latest image. \
            Container will fail If the pull fails.\n - `\"IfNotPresent\"` means that kubelet \
            pulls if the image isn't present on disk. Container will fail if the image isn't \
            present and the pull fails.\n - `\"Never\"` means that kubelet never pulls an image, \
            but only uses a local image. Container will fail if the image isn't present";
        assert_eq!(
            parse_description(description).unwrap(),
            ["Always", "IfNotPresent", "Never"]
        );
        let service = "type determines how the Service is exposed.\n\nPossible enum values:\n \
            - `\"NodePort\"` means a service will be exposed on one port of every node.\n - \
            `\"LoadBalancer\"` means a service will be exposed via an external load balancer.\n \
            - `\"ExternalName\"` means a service consists of only a reference.\n - \
            `\"ClusterIP\"` means a service will only be accessible inside the cluster.";
        assert_eq!(
            parse_description(service).unwrap(),
            ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
        );
        assert_eq!(
            parse_description("Protocol for port. Must be UDP, TCP, or SCTP."),
            None
        );
    }

    #[test]
    fn adds_enum_from_description() {
        let mut node = json!({
            "type": "string",
            "description": "x\n\nPossible enum values:\n - `\"TCP\"` is TCP.\n - `\"UDP\"` is UDP.\n - `\"SCTP\"` is SCTP.",
        });
        assert!(add_from_description(node.as_object_mut().unwrap()));
        assert_eq!(node["enum"], json!(["SCTP", "TCP", "UDP"]));
    }

    #[test]
    fn curated_values_are_sorted_and_unique() {
        for (def, property, _, values) in CURATED.iter().chain(CURATED_UNDESCRIBED) {
            let mut sorted = values.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(&sorted, values, "{def}.{property}");
        }
    }
}
