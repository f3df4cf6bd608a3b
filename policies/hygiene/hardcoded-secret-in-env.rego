# METADATA
# title: Environment variable with a secret-looking name has a literal value
# description: |
#   An environment variable named like a credential (`*PASSWORD*`, `*PASSWD*`,
#   `*PASSPHRASE*`, `*SECRET*`, `*TOKEN*`, `*API_KEY*`/`*APIKEY*`, `*ACCESS_KEY*`,
#   `*PRIVATE_KEY*`, `*ENCRYPTION_KEY*`, `*SIGNING_KEY*`, `*CREDENTIAL*`, case-insensitive,
#   `-` and `.` read as `_`) with a literal `value` puts the secret in the manifest: in Git
#   history, in CI logs, in every clone of the repository and in the object readable by
#   anyone who can `get` the workload.
#
#   To keep the rule precise, names that refer to a secret rather than hold one are skipped
#   (last word `FILE`, `PATH`, `DIR`, `URL`, `URI`, `ENDPOINT`, `HOST`, `NAME`, `REF`, `ID`,
#   `MOUNT`, `LOCATION`, `HEADER`, `FIELD`, `TYPE`, `MODE`, `FORMAT`, `LENGTH`, `SIZE`,
#   `TTL`, `TIMEOUT`, `EXPIRY`, `EXPIRATION`, `ENABLED`, `DISABLED`, `REQUIRED`, `POLICY`),
#   and so are values that cannot be a credential: empty, file paths (`/...`), URLs
#   (`scheme://...`), numbers, booleans, values that expand other variables (`$(VAR)`), and
#   template placeholders (`${...}`, `{{...}}`, `<your-password>`, `SCREAMING_SNAKE_CASE`
#   words such as `GOOGLE_API_KEY_VAL` that a script substitutes). `valueFrom` is never
#   flagged. The message never repeats the value. (kube-linter's env-var-secret only matches
#   names containing `secret`, so it is a partial equivalent.)
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/secret/#using-secrets-as-environment-variables
#   - ref: https://kubernetes.io/docs/concepts/security/secrets-good-practices/
# custom:
#   id: KG602
#   name: hardcoded-secret-in-env
#   severity: warning
#   category: hygiene
#   kinds: [workloads]
#   remediation: |
#     Move the value into a Secret (created out of band, or from an encrypted source such as
#     Sealed Secrets, SOPS or External Secrets) and reference it with
#     `valueFrom.secretKeyRef`, or better mount it as a file. Rotate the credential: it is in
#     the repository's history.
#   equivalents:
#     kube-linter:
#       - {id: env-var-secret, match: partial, note: "kube-linter flags any literal value of a variable whose name contains secret; kubegate more credential names, skipping placeholders"}
package kubegate.rules.hygiene.hardcoded_secret_in_env

import rego.v1

import data.kubegate.lib.k8s
import data.kubegate.lib.workload

secret_words := [
	"password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "access_key",
	"accesskey", "private_key", "privatekey", "encryption_key", "signing_key", "credential",
]

# Last words of names that point at a secret or describe it rather than hold it.
reference_words := {
	"file", "path", "dir", "url", "uri", "endpoint", "host", "name", "ref", "id", "mount",
	"location", "header", "field", "type", "mode", "format", "length", "size", "ttl",
	"timeout", "expiry", "expiration", "enabled", "disabled", "required", "policy",
}

non_values := {"true", "false", "yes", "no", "on", "off", "none", "null", "nil"}

normalized(name) := lower(replace(replace(name, "-", "_"), ".", "_"))

secret_name(name) if {
	n := normalized(name)
	some w in secret_words
	contains(n, w)
	words := split(n, "_")
	not words[count(words) - 1] in reference_words
}

literal(value) if {
	is_string(value)
	s := trim_space(value)
	s != ""
	not startswith(s, "/")
	not contains(s, "://")
	not regex.match(`^[0-9]+(\.[0-9]+)?[a-zA-Z]?$`, s)
	not lower(s) in non_values
	not contains(s, "$(")
	not contains(s, "${")
	not contains(s, "{{")
	not regex.match(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`, s)
	not regex.match(`^<[^<>]*>$`, s)
}

violation contains v if {
	some c in data.kubegate.lib.k8s.containers
	some e in workload.env_vars(c)
	secret_name(e.name)
	literal(e.entry.value)
	v := {
		"msg": sprintf("container `%s` sets `%s` to a literal value in the manifest", [k8s.name(c), e.name]),
		"path": array.concat(e.path, ["value"]),
	}
}
