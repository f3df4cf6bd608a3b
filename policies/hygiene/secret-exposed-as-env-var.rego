# METADATA
# title: Secret exposed to a container as environment variables
# description: |
#   Secrets passed as environment variables (`env[].valueFrom.secretKeyRef`,
#   `envFrom[].secretRef`) are visible to every process of the container and its children,
#   end up in crash reports, debug endpoints and logs that dump the environment, and are not
#   updated when the Secret changes. Mounted as files, they can be restricted by file mode,
#   are not inherited, and are refreshed. CIS Kubernetes Benchmark 5.4.1. Many applications
#   only read configuration from the environment, so the rule is informational.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-files-from-a-pod
#   - ref: https://kubernetes.io/docs/concepts/security/secrets-good-practices/
# custom:
#   id: KG603
#   name: secret-exposed-as-env-var
#   severity: info
#   category: hygiene
#   kinds: [workloads]
#   remediation: |
#     Mount the Secret as a volume (`volumes[].secret` with `volumeMounts`) and have the
#     application read the file, for example through a `*_FILE` variable pointing at it.
#   equivalents:
#     checkov: [CKV_K8S_35]
#     kube-linter:
#       - {id: read-secret-from-env-var, match: partial, note: "kube-linter flags only env[].valueFrom.secretKeyRef, not envFrom"}
package kubegate.rules.hygiene.secret_exposed_as_env_var

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	some e in workload.env_vars(c)
	ref := e.entry.valueFrom.secretKeyRef
	is_object(ref)
	v := {
		"msg": sprintf("container `%s` reads `%s` from Secret `%v` into an environment variable", [k8s.name(c), e.name, object.get(ref, "name", "")]),
		"path": array.concat(e.path, ["valueFrom", "secretKeyRef"]),
	}
}

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	env_from := c.c.envFrom
	is_array(env_from)
	some i, src in env_from
	ref := src.secretRef
	is_object(ref)
	v := {
		"msg": sprintf("container `%s` loads every key of Secret `%v` into environment variables", [k8s.name(c), object.get(ref, "name", "")]),
		"path": array.concat(c.path, ["envFrom", i, "secretRef"]),
	}
}
