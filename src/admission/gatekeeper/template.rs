//! A ConstraintTemplate compiled once: its Rego (and libs) in a regorus engine, checked as
//! Gatekeeper's frameworks check it (`constraint/pkg/client/drivers/rego/compilers.go`,
//! `constraint/pkg/regorewriter`), and run on one input at a time from a pool of engines.

use std::sync::{Mutex, PoisonError};

use regorus::Engine;
use serde_json::Value;

use crate::admission::program::{Layout, Program};
use crate::admission::{Problem, str_at};

/// The only target Gatekeeper's templates run on.
pub(super) const TARGET: &str = "admission.k8s.gatekeeper.sh";

/// The inventory an engine of the pool holds: which cluster it was built from.
pub(super) type InventoryKey = u64;

/// One engine of the pool, with the inventory it was given (if any).
struct Pooled {
    engine: Engine,
    inventory: Option<InventoryKey>,
}

/// A ConstraintTemplate that compiled.
pub(super) struct Template {
    /// `spec.crd.spec.names.kind`.
    pub kind: String,
    /// `targets[0].operations`; empty is every operation.
    operations: Vec<String>,
    pub code: Code,
}

/// The code a template runs, chosen as Gatekeeper chooses it: `K8sNativeValidation` (CEL)
/// before Rego (its driver comes first, `--enable-k8s-native-validation` being on by
/// default, in the webhook and in gator).
pub(super) enum Code {
    Rego(Box<Rego>),
    Cel(Program),
}

/// A template's Rego, compiled.
pub(super) struct Rego {
    /// `data.<package>.violation`.
    query: String,
    /// Whether the Rego reads `data.inventory` (which then has to be built and loaded).
    pub inventory: bool,
    /// The fields of `input.review.object` the Rego reads, to place violations.
    pub paths: Vec<Vec<String>>,
    /// The compiled engine every pooled engine is cloned from. regorus engines need `&mut`
    /// to evaluate, and the evaluating threads share the template.
    prototype: Mutex<Engine>,
    pool: Mutex<Vec<Pooled>>,
}

/// What a template's Rego produced for one input.
pub(super) struct Outcome {
    /// The `msg` of each `violation` result.
    pub messages: Vec<String>,
}

/// The Rego of a template's target: `rego` + `libs` (always Rego v0), or the `code` entry
/// of engine `Rego` (`source.version: v1` for Rego v1). `Err` is a problem pointer and
/// message; `Ok(None)` a target without Rego.
struct Source<'a> {
    rego: &'a str,
    libs: Vec<&'a str>,
    v1: bool,
    /// JSON pointer of the Rego text in the template.
    pointer: String,
}

impl Template {
    /// Compiles the template `t` (object `index`); what is wrong with it is added to
    /// `problems`. `None` when it cannot run.
    pub fn compile(index: usize, t: &Value, problems: &mut Vec<Problem>) -> Option<Template> {
        let invalid = |pointer: &str, message: String| Problem::invalid(index, pointer, message);
        let name = str_at(t, &["metadata", "name"]).unwrap_or("");
        let Some(kind) =
            str_at(t, &["spec", "crd", "spec", "names", "kind"]).filter(|k| !k.is_empty())
        else {
            problems.push(invalid(
                "/spec/crd/spec/names/kind",
                format!("ConstraintTemplate {name:?} does not specify CRD Kind"),
            ));
            return None;
        };
        if !name.eq_ignore_ascii_case(kind) {
            problems.push(invalid(
                "/metadata/name",
                format!(
                    "the ConstraintTemplate's name {name:?} is not equal to the lowercase of CRD's Kind: {:?}",
                    kind.to_lowercase()
                ),
            ));
            return None;
        }
        let targets = t
            .pointer("/spec/targets")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let [target] = targets else {
            problems.push(invalid(
                "/spec/targets",
                "the ConstraintTemplate must declare exactly one target".into(),
            ));
            return None;
        };
        if str_at(target, &["target"]) != Some(TARGET) {
            problems.push(invalid(
                "/spec/targets/0/target",
                format!("the target must be `{TARGET}`, the only one Gatekeeper runs"),
            ));
            return None;
        }
        let operations = target
            .get("operations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        let rego = match source(target) {
            Ok(s) => s,
            Err((pointer, message)) => {
                problems.push(invalid(&pointer, message));
                return None;
            }
        };
        let template = |code| {
            Some(Template {
                kind: kind.to_owned(),
                operations,
                code,
            })
        };
        match cel(target) {
            Ok(None) => {}
            Ok(Some((program, unsupported))) => {
                // What kubegate's interpreter cannot run of the CEL, Rego that Gatekeeper
                // keeps as the same policy can.
                if unsupported.is_empty() || rego.is_none() {
                    problems.extend(
                        unsupported
                            .into_iter()
                            .map(|(at, message)| Problem::unsupported(index, at, message)),
                    );
                    return template(Code::Cel(program));
                }
            }
            Err(errors) => {
                problems.extend(
                    errors
                        .into_iter()
                        .map(|(at, message)| invalid(&at, message)),
                );
                return None;
            }
        }
        let Some(source) = rego else {
            problems.push(invalid(
                "/spec/targets/0",
                "could not extract Rego from the constraint template".into(),
            ));
            return None;
        };
        match build(name, &source) {
            Ok((engine, query)) => {
                let texts = std::iter::once(source.rego).chain(source.libs.iter().copied());
                let mut paths = Vec::new();
                let mut inventory = false;
                for text in texts {
                    let code = blank(text, false);
                    inventory |= refs(&code, "data.inventory").next().is_some();
                    paths.extend(object_paths(&blank(text, true)));
                }
                paths.sort();
                paths.dedup();
                template(Code::Rego(Box::new(Rego {
                    query,
                    inventory,
                    paths,
                    prototype: Mutex::new(engine),
                    pool: Mutex::new(Vec::new()),
                })))
            }
            // Rego OPA accepts that regorus does not: kubegate's gap, not the template's.
            Err(message) if REGORUS_GAPS.iter().any(|g| message.contains(g)) => {
                problems.push(Problem::unsupported(
                    index,
                    &source.pointer,
                    format!(
                        "kubegate's Rego engine (regorus) cannot run this template, which \
                         OPA accepts: {}",
                        last_line(&message)
                    ),
                ));
                None
            }
            Err(message) => {
                problems.push(invalid(&source.pointer, message));
                None
            }
        }
    }

    /// Whether the template reads `data.inventory`.
    pub fn reads_inventory(&self) -> bool {
        matches!(&self.code, Code::Rego(r) if r.inventory)
    }

    /// Whether the template runs on `operation` at the admission webhook.
    pub fn runs_on(&self, operation: &str) -> bool {
        self.operations.is_empty() || self.operations.iter().any(|o| o == operation || o == "*")
    }
}

impl Rego {
    /// Evaluates `violation` on `input`, with `data.inventory` when the template reads it.
    /// `Err` is regorus's evaluation error.
    pub fn run(
        &self,
        input: regorus::Value,
        inventory: Option<(InventoryKey, &regorus::Value)>,
    ) -> Result<Outcome, String> {
        let pooled = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut pooled = match pooled {
            Some(p) => p,
            None => Pooled {
                engine: self
                    .prototype
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
                inventory: None,
            },
        };
        let result = (|| {
            if let Some((key, data)) = inventory
                && pooled.inventory != Some(key)
            {
                pooled.engine.clear_data();
                pooled.inventory = None;
                let mut root = std::collections::BTreeMap::new();
                root.insert(regorus::Value::from("inventory"), data.clone());
                pooled
                    .engine
                    .add_data(regorus::Value::from(root))
                    .map_err(|e| e.to_string())?;
                pooled.inventory = Some(key);
            }
            pooled.engine.set_input(input);
            let results = pooled
                .engine
                .eval_rule(self.query.clone())
                .map_err(|e| e.to_string())?;
            Ok(Outcome {
                messages: messages(&results),
            })
        })();
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pooled);
        result
    }
}

/// The `msg` of each result of a `violation` set. A result without a string `msg` is
/// Gatekeeper's error too; it is reported with what it holds.
fn messages(results: &regorus::Value) -> Vec<String> {
    let Ok(set) = results.as_set() else {
        return Vec::new();
    };
    set.iter()
        .map(|r| match r["msg"].as_string() {
            Ok(s) => s.to_string(),
            Err(_) => format!(
                "a violation result has no string `msg`: {}",
                r.to_json_str().unwrap_or_default()
            ),
        })
        .collect()
}

fn libs<'a>(v: Option<&'a Value>, pointer: &str) -> Result<Vec<&'a str>, (String, String)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, l)| {
            l.as_str()
                .ok_or_else(|| (format!("{pointer}/{i}"), "a lib must be a string".into()))
        })
        .collect()
}

/// Gatekeeper's variables before a CEL template's own (`pkg/drivers/k8scel/transform`):
/// `anyObject` (the old object on DELETE) and `params` (the Constraint's parameters; the
/// Constraint itself is CEL's `params`).
const PRELUDE: &[(&str, &str)] = &[
    (
        "anyObject",
        r#"has(request.operation) && request.operation == "DELETE" && object == null ? oldObject : object"#,
    ),
    (
        "params",
        "!has(params.spec) ? null : !has(params.spec.parameters) ? null: params.spec.parameters",
    ),
];

/// The reserved prefix of Gatekeeper's own match conditions and variables.
const RESERVED: &str = "gatekeeper_internal_";

/// The `K8sNativeValidation` code of a target, compiled with what kubegate cannot run of
/// it (pointer, message); `Err` is what Gatekeeper refuses (`schema.Source.Validate`, and
/// expressions that do not compile).
#[allow(clippy::type_complexity)]
fn cel(target: &Value) -> Result<Option<(Program, Vec<(String, String)>)>, Vec<(String, String)>> {
    let Some((i, code)) = target
        .get("code")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .find(|(_, c)| str_at(c, &["engine"]) == Some("K8sNativeValidation"))
    else {
        return Ok(None);
    };
    let at = format!("/spec/targets/0/code/{i}/source");
    let source = code.get("source").unwrap_or(&Value::Null);
    let mut errors = Vec::new();
    for (key, what) in [
        ("matchCondition", "match condition"),
        ("variables", "variable"),
    ] {
        for (j, e) in source
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = str_at(e, &["name"]).unwrap_or("");
            if name.starts_with(RESERVED) {
                errors.push((
                    format!("{at}/{key}/{j}/name"),
                    format!("{name} is not a valid {what}; cannot have {RESERVED:?} as a prefix"),
                ));
            } else if key == "variables" && (name == "params" || name == "anyObject") {
                errors.push((
                    format!("{at}/{key}/{j}/name"),
                    format!("{name} an invalid variable name, {name:?} is a reserved keyword"),
                ));
            }
        }
    }
    let fail = match source.get("failurePolicy") {
        None | Some(Value::Null) => true,
        Some(Value::String(f)) if f == "Fail" => true,
        Some(Value::String(f)) if f == "Ignore" => false,
        Some(other) => {
            errors.push((
                format!("{at}/failurePolicy"),
                format!("unrecognized failure policy: {other}"),
            ));
            true
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let list = |key: &str| source.get(key).map(|v| (v, format!("{at}/{key}")));
    let program = Program::compile(&Layout {
        conditions: list("matchCondition"),
        variables: list("variables"),
        validations: list("validations"),
        prelude: PRELUDE,
        default_message: None,
        fail,
    })?
    .alias("anyObject");
    let unsupported = program.unsupported();
    Ok(Some((program, unsupported)))
}

fn source(target: &Value) -> Result<Option<Source<'_>>, (String, String)> {
    // The legacy `rego` field wins over a `code` entry of engine Rego (the conversion of
    // frameworks' `Convert_v1_Target_To_templates_Target` puts it in that entry), and is v0.
    if let Some(rego) = target
        .get("rego")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        return Ok(Some(Source {
            rego,
            libs: libs(target.get("libs"), "/spec/targets/0/libs")?,
            v1: false,
            pointer: "/spec/targets/0/rego".into(),
        }));
    }
    let code = target
        .get("code")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, c) in code.enumerate() {
        if str_at(c, &["engine"]) != Some("Rego") {
            continue;
        }
        let at = format!("/spec/targets/0/code/{i}/source");
        let s = c.get("source").unwrap_or(&Value::Null);
        let Some(rego) = s.get("rego").and_then(Value::as_str) else {
            return Err((
                format!("{at}/rego"),
                "the Rego code has no `rego` source".into(),
            ));
        };
        let v1 = match s.get("version") {
            None | Some(Value::Null) => false,
            Some(Value::String(v)) => v == "v1",
            Some(_) => {
                return Err((format!("{at}/version"), "`version` must be a string".into()));
            }
        };
        return Ok(Some(Source {
            rego,
            libs: libs(s.get("libs"), &format!("{at}/libs"))?,
            v1,
            pointer: format!("{at}/rego"),
        }));
    }
    Ok(None)
}

/// What regorus refuses of valid Rego (OPA accepts it), in a shape [`super::shim`] does not
/// rewrite: a set rule with several bodies.
const REGORUS_GAPS: &[&str] = &["else cannot be used with set rules"];

/// The line of a regorus error that says what is wrong (`error: …`), else its last line.
pub(crate) fn last_line(message: &str) -> &str {
    let lines = || message.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| l.starts_with("error:"))
        .or_else(|| lines().next_back())
        .unwrap_or(message)
}

/// Compiles the template's Rego and libs into one engine; returns it with the query of
/// its `violation` rule, or Gatekeeper's reason to refuse the template.
fn build(name: &str, source: &Source<'_>) -> Result<(Engine, String), String> {
    let mut engine = Engine::new();
    engine.set_rego_v0(!source.v1);
    let main = format!("{name}/template.rego");
    let package = engine
        .add_policy(main.clone(), super::shim::for_regorus(source.rego))
        .map_err(|e| format!("the Rego does not compile: {e}"))?;
    check_rules(source.rego, &main)?;
    if !engine
        .has_declared_rule_rooted_at(&main, "violation")
        .unwrap_or(false)
    {
        return Err("invalid rego: missing required rules: [violation]".into());
    }
    for (i, lib) in source.libs.iter().enumerate() {
        let path = format!("{name}/lib_{i}.rego");
        let package = engine
            .add_policy(path.clone(), super::shim::for_regorus(lib))
            .map_err(|e| format!("lib {i} does not compile: {e}"))?;
        // Libs live under `data.lib`, never at `data.lib` itself (regorewriter's
        // `allowedLibPackage`).
        if !package.starts_with("data.lib.") && !package.starts_with("data.lib[") {
            return Err(format!(
                "invalid libs: path {package} not found in lib prefixes"
            ));
        }
        check_rules(lib, &path)?;
    }
    let query = format!("{package}.violation");
    // regorus resolves references when the policy is first evaluated: do it now, so a
    // template that does not compile is a problem of the template, not of each object.
    engine.set_input(regorus::Value::new_object());
    engine
        .eval_rule(query.clone())
        .map_err(|e| format!("the Rego does not compile: {e}"))?;
    Ok((engine, query))
}

/// The imports and `data` references frameworks' regorewriter allows: imports of
/// `data.lib…` and `future.…` only (so `import rego.v1` is refused), references to
/// `data.lib…` and `data.inventory…` only.
fn check_rules(text: &str, path: &str) -> Result<(), String> {
    let code = blank(text, false);
    for line in code.lines() {
        let Some(rest) = line.trim_start().strip_prefix("import") else {
            continue;
        };
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let import = rest.split_whitespace().next().unwrap_or("");
        let under = |prefix: &str| {
            import == prefix
                || import
                    .strip_prefix(prefix)
                    .is_some_and(|r| r.starts_with(['.', '[']))
        };
        if under("input") {
            return Err(format!("invalid import: cannot import input: \"{import}\""));
        }
        if !under("data.lib") && !under("future") {
            return Err(format!("invalid import: bad import: \"{import}\""));
        }
    }
    for r in refs(&code, "data") {
        let Some(r) = r.strip_prefix('.') else {
            continue;
        };
        let first: String = r
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if first != "lib" && first != "inventory" {
            return Err(format!(
                "check refs failed on module {path}: disallowed ref data.{first}"
            ));
        }
    }
    Ok(())
}

/// `text` with comments blanked, and string literals too unless `keep_strings`.
fn blank(text: &str, keep_strings: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' | '`' => {
                let quote = c;
                let mut lit = String::from(c);
                while let Some(c) = chars.next() {
                    lit.push(c);
                    if c == '\\' && quote == '"' {
                        if let Some(n) = chars.next() {
                            lit.push(n);
                        }
                    } else if c == quote {
                        break;
                    }
                }
                if keep_strings {
                    out.push_str(&lit);
                } else {
                    out.push_str("\"\"");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// What follows each whole-word occurrence of `word` in `code`: not preceded by a name
/// character or a dot, not followed by a name character.
fn refs<'a>(code: &'a str, word: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(word).filter_map(move |(at, _)| {
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| name(c) || c == '.')
        {
            return None;
        }
        let rest = &code[at + word.len()..];
        (!rest.starts_with(name)).then_some(rest)
    })
}

/// The field paths of `input.review.object.a.b["c"][0]…` chains in `code`, up to the first
/// segment that is not a literal (`[_]`, `[i]`).
fn object_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for mut rest in refs(code, "input.review.object") {
        let mut path = Vec::new();
        loop {
            if let Some(r) = rest.strip_prefix('.') {
                let ident: String = r
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if ident.is_empty() {
                    break;
                }
                rest = &r[ident.len()..];
                path.push(ident);
            } else if let Some(r) = rest.strip_prefix("[\"") {
                let Some(end) = r.find("\"]") else { break };
                path.push(r[..end].to_owned());
                rest = &r[end + 2..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
                if digits.is_empty() || !r[digits.len()..].starts_with(']') {
                    break;
                }
                rest = &r[digits.len() + 1..];
                path.push(digits);
            } else {
                break;
            }
        }
        if !path.is_empty() {
            paths.push(path);
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_follow_literal_segments() {
        let rego = r#"
            x := input.review.object.metadata.labels["app.kubernetes.io/name"]
            c := input.review.object.spec.containers[_]
            # input.review.object.status.ignored
            y := input.review.object.spec.template.spec.containers[0].image
            z := input.review.objects
        "#;
        let paths = object_paths(&blank(rego, true));
        let strs: Vec<String> = paths.iter().map(|p| p.join("/")).collect();
        assert_eq!(
            strs,
            vec![
                "metadata/labels/app.kubernetes.io/name",
                "spec/containers",
                "spec/template/spec/containers/0/image"
            ]
        );
    }

    #[test]
    fn inventory_is_seen_only_in_code() {
        let code = blank("# data.inventory\nmsg := \"data.inventory\"", false);
        assert!(refs(&code, "data.inventory").next().is_none());
        let code = blank("x := data.inventory.namespace[ns]", false);
        assert!(refs(&code, "data.inventory").next().is_some());
        let code = blank("x := data.inventoryx", false);
        assert!(refs(&code, "data.inventory").next().is_none());
    }

    #[test]
    fn imports_and_data_refs_are_checked_as_gatekeeper_does() {
        assert_eq!(
            check_rules(
                "package a\nimport future.keywords.if\nimport data.lib.helpers\n",
                "t"
            ),
            Ok(())
        );
        assert_eq!(
            check_rules("package a\nimport rego.v1\n", "t"),
            Err("invalid import: bad import: \"rego.v1\"".into())
        );
        assert!(check_rules("package a\nimport input.review\n", "t").is_err());
        assert!(check_rules("package a\nx := data.other.thing\n", "t").is_err());
        assert_eq!(
            check_rules("package a\nx := data.inventory.cluster\n", "t"),
            Ok(())
        );
    }
}
