//! Rule metadata: an OPA-style `# METADATA` comment block at the top of each built-in rule.
//!
//! regorus does not read annotations, so kubegate parses the block itself (as YAML, with
//! kubegate's own parser) into [`RuleMeta`], rejecting unknown or missing fields.

use serde::Deserialize;

use crate::finding::Severity;
pub use crate::rule::{Effect, Equivalents, RuleMeta, Scope};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Annotation {
    title: String,
    description: String,
    #[serde(default)]
    related_resources: Vec<Resource>,
    custom: Custom,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resource {
    #[serde(rename = "ref")]
    url: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Custom {
    id: String,
    name: String,
    severity: Severity,
    category: String,
    kinds: Vec<String>,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    effect: Option<Effect>,
    remediation: String,
    #[serde(default)]
    equivalents: Equivalents,
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "error" => Ok(Severity::Error),
            "warning" => Ok(Severity::Warning),
            "info" => Ok(Severity::Info),
            other => Err(serde::de::Error::custom(format!(
                "unknown severity `{other}` (expected error, warning or info)"
            ))),
        }
    }
}

/// Parses the metadata of the rule file `file` (path under `policies/`) with source `src`.
pub fn parse(file: &str, src: &str) -> Result<RuleMeta, String> {
    let mut lines = src.lines().skip_while(|l| l.trim() != "# METADATA");
    if lines.next().is_none() {
        return Err(format!("{file}: no `# METADATA` block"));
    }
    let mut yaml = String::new();
    for l in lines {
        let Some(rest) = l.strip_prefix('#') else {
            break;
        };
        yaml.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        yaml.push('\n');
    }
    let (docs, issues) = crate::parse::yaml::parse(&yaml, &Default::default());
    if let Some(i) = issues.first() {
        return Err(format!("{file}: METADATA is not valid YAML: {}", i.message));
    }
    let value = docs.into_iter().next().map(|d| d.value).unwrap_or_default();
    let a: Annotation =
        serde_json::from_value(value).map_err(|e| format!("{file}: METADATA: {e}"))?;
    let package = src
        .lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .map(|p| p.trim().to_owned())
        .ok_or_else(|| format!("{file}: no package"))?;
    let meta = RuleMeta {
        id: a.custom.id,
        name: a.custom.name,
        title: a.title,
        severity: a.custom.severity,
        category: a.custom.category,
        kinds: a.custom.kinds,
        scope: a.custom.scope,
        effect: a.custom.effect,
        rationale: a.description.trim().to_owned(),
        remediation: a.custom.remediation.trim().to_owned(),
        references: a.related_resources.into_iter().map(|r| r.url).collect(),
        equivalents: a.custom.equivalents,
        file: file.to_owned(),
        package,
    };
    validate(&meta)?;
    Ok(meta)
}

/// The conventions every rule follows: id shape, kebab-case name, package mirrors the path.
fn validate(m: &RuleMeta) -> Result<(), String> {
    let f = &m.file;
    let id_ok =
        m.id.len() == 5 && m.id.starts_with("KG") && m.id[2..].bytes().all(|b| b.is_ascii_digit());
    if !id_ok {
        return Err(format!("{f}: id `{}` is not of the form KGnnn", m.id));
    }
    let kebab = !m.name.is_empty()
        && m.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !kebab {
        return Err(format!("{f}: name `{}` is not kebab-case", m.name));
    }
    match (m.scope, m.effect) {
        (Scope::Change, None) => {
            return Err(format!(
                "{f}: a change-scope rule says what the change does: `effect: destroys`, \
                 `fails-sync` or `risky`"
            ));
        }
        (Scope::Object | Scope::Inventory, Some(_)) => {
            return Err(format!("{f}: only a change-scope rule has an `effect`"));
        }
        _ => {}
    }
    let expected_file = format!("{}/{}.rego", m.category, m.name);
    if *f != expected_file {
        return Err(format!(
            "{f}: a rule named `{}` in category `{}` belongs in `{expected_file}`",
            m.name, m.category
        ));
    }
    let expected_package = format!(
        "kubegate.rules.{}.{}",
        m.category.replace('-', "_"),
        m.name.replace('-', "_")
    );
    if m.package != expected_package {
        return Err(format!(
            "{f}: package `{}` should be `{expected_package}`",
            m.package
        ));
    }
    for (what, text) in [
        ("title", &m.title),
        ("description", &m.rationale),
        ("remediation", &m.remediation),
    ] {
        if text.trim().is_empty() {
            return Err(format!("{f}: empty {what}"));
        }
    }
    if m.kinds.is_empty() {
        return Err(format!("{f}: `kinds` must name at least one kind (or `*`)"));
    }
    if m.references.is_empty() {
        return Err(format!(
            "{f}: at least one related_resources entry is required"
        ));
    }
    Ok(())
}

/// Pod-bearing kinds whose pod spec the rules read (`kubegate.lib.k8s.pod_specs`).
pub const WORKLOADS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
];

/// Built-in cluster-scoped kinds (everything else, custom resources included, counts as
/// namespaced).
pub const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterTrustBundle",
    "ComponentStatus",
    "CustomResourceDefinition",
    "DeviceClass",
    "FlowSchema",
    "IPAddress",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "ServiceCIDR",
    "StorageClass",
    "StorageVersionMigration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "VolumeAttributesClass",
];

impl RuleMeta {
    /// Whether the rule applies to objects of `kind`.
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds.iter().any(|k| match k.as_str() {
            "*" => true,
            "workloads" => WORKLOADS.contains(&kind),
            "namespaced" => !CLUSTER_SCOPED.contains(&kind),
            other => other == kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"# METADATA
# title: Container runs privileged
# description: Why.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: KG101
#   name: privileged-container
#   severity: error
#   category: security
#   kinds: [workloads]
#   remediation: How.
package kubegate.rules.security.privileged_container
"#;

    #[test]
    fn a_complete_rule_parses() {
        let m = parse("security/privileged-container.rego", GOOD).unwrap();
        assert_eq!(m.id, "KG101");
        assert_eq!(m.severity, Severity::Error);
        assert!(m.applies_to("Deployment") && !m.applies_to("ConfigMap"));
    }

    #[test]
    fn missing_unknown_or_misplaced_metadata_is_rejected() {
        let file = "security/privileged-container.rego";
        let cases = [
            (GOOD.replace("#   severity: error\n", ""), "severity"),
            (GOOD.replace("# title: Container runs privileged\n", ""), "title"),
            (GOOD.replace("#   remediation: How.\n", "#   remediation: How.\n#   owner: me\n"), "owner"),
            (GOOD.replace("severity: error", "severity: fatal"), "fatal"),
            (GOOD.replace("id: KG101", "id: K101"), "KGnnn"),
            (GOOD.replace("name: privileged-container", "name: Privileged"), "kebab"),
            (GOOD.replace("package kubegate.rules.security.privileged_container", "package main"), "package"),
            (GOOD.replace("# related_resources:\n#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/\n", ""), "related_resources"),
            (GOOD.replace("# METADATA\n", ""), "METADATA"),
        ];
        for (src, what) in cases {
            let err = parse(file, &src).unwrap_err();
            assert!(
                err.contains(what),
                "expected an error about {what}, got: {err}"
            );
        }
        let err = parse("security/other.rego", GOOD).unwrap_err();
        assert!(err.contains("belongs in"), "{err}");
    }

    fn with_equivalents(block: &str) -> String {
        GOOD.replace(
            "#   remediation: How.\n",
            &format!("#   remediation: How.\n#   equivalents:\n{block}"),
        )
    }

    #[test]
    fn equivalents_are_exact_strings_or_maps_with_a_note() {
        use crate::rule::{Match, Tool};
        let src = with_equivalents(
            "#     checkov:\n\
             #       - CKV_K8S_16\n\
             #       - {id: CKV_K8S_37, match: partial, note: \"checkov wants drop ALL\"}\n\
             #     kube-linter: [privileged-container]\n\
             #     trivy:\n\
             #       - id: KSV017\n\
             #         match: exact\n",
        );
        let m = parse("security/privileged-container.rego", &src).unwrap();
        let e = &m.equivalents;
        assert_eq!(e.checkov.len(), 2);
        assert_eq!(e.checkov[0].id, "CKV_K8S_16");
        assert_eq!(e.checkov[0].exactness, Match::Exact);
        assert_eq!(e.checkov[0].note, None);
        assert_eq!(e.checkov[1].exactness, Match::Partial);
        assert_eq!(e.checkov[1].note.as_deref(), Some("checkov wants drop ALL"));
        assert_eq!(e.kube_linter[0].id, "privileged-container");
        assert_eq!(e.trivy[0].exactness, Match::Exact);
        // Lookups are case-insensitive, and trivy's spellings of one id are one check.
        assert!(e.find(Tool::Checkov, "ckv_k8s_37").is_some());
        assert!(e.find(Tool::Trivy, "KSV-0017").is_some());
        assert!(e.find(Tool::Trivy, "AVD-KSV-0017").is_some());
        assert!(e.find(Tool::Trivy, "KSV018").is_none());
        assert!(e.find(Tool::KubeLinter, "CKV_K8S_16").is_none());
        let lines = m.equivalent_tools();
        assert_eq!(
            lines[0],
            "checkov: CKV_K8S_16, CKV_K8S_37 (partial: checkov wants drop ALL)"
        );
    }

    #[test]
    fn a_partial_equivalent_without_a_note_is_refused() {
        let file = "security/privileged-container.rego";
        let cases = [
            (
                "#     checkov: [{id: CKV_K8S_37, match: partial}]\n",
                "must say how it differs",
            ),
            (
                "#     checkov: [{id: CKV_K8S_37, match: partial, note: \"\"}]\n",
                "must say how it differs",
            ),
            (
                "#     checkov: [{id: CKV_K8S_37, match: close, note: x}]\n",
                "unknown match `close`",
            ),
            (
                "#     checkov: [{id: CKV_K8S_37, why: x}]\n",
                "unknown field `why`",
            ),
            ("#     checkov: [{match: exact}]\n", "needs an `id`"),
            ("#     checkov: [3]\n", "an equivalent is an id"),
            ("#     polaris: [x]\n", "polaris"),
        ];
        for (block, what) in cases {
            let err = parse(file, &with_equivalents(block)).unwrap_err();
            assert!(
                err.contains(what),
                "expected an error about {what}, got: {err}"
            );
            assert!(err.starts_with(file), "{err}");
        }
    }
}
