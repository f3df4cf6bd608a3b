//! User policies with conftest's conventions, so existing conftest policies run unchanged.
//!
//! - every `.rego` under each `--policy` directory, compiled once (Rego v1 by default,
//!   `--rego-v0` for the older syntax);
//! - namespaces: `main` by default, `--namespace` (repeatable, globs where `*` also matches
//!   dots, like Go's `path.Match` on package names), or `--all-namespaces`;
//! - rules `deny`, `violation`, `warn` and their `_suffix` forms (`deny_privileged`);
//!   results are strings, or objects with a string `msg` (other keys are metadata; `path` or
//!   conftest's `_loc` give the location);
//! - `exception` rules: `exception contains ["foo"] if ...` exempts `deny_foo`,
//!   `violation_foo` and `warn_foo` for that input; `""` exempts the bare rules;
//! - `--data` directories: `.json`/`.yaml`/`.yml` files merged under `data`, prefixed by
//!   their directory relative to the given root;
//! - `data.conftest.file` (`{name, dir}` of the file checked), `parse_config`,
//!   `parse_config_file`, `parse_combined_config_files` and `opa.runtime()` (with only the
//!   environment variables `--policy-env` allows): see [`builtins`]. A policy that calls
//!   `http.send` does not load: kubegate makes no network calls.
//!
//! Each document is one input, as in conftest (a `kind: List` is one input, not its items).

pub mod builtins;

pub use builtins::COMBINED;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use globset::{GlobBuilder, GlobMatcher};
use regorus::Engine;

/// What the user asked for on the command line or in the config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub policy_dirs: Vec<PathBuf>,
    pub data_dirs: Vec<PathBuf>,
    pub namespaces: Vec<String>,
    pub all_namespaces: bool,
    pub rego_v0: bool,
    /// Environment variables (globs) that `opa.runtime().env` shows; none by default.
    pub policy_env: Vec<String>,
}

/// Whether a rule's results fail the check (`deny`, `violation`) or warn (`warn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deny,
    Warn,
}

/// One rule to query: `data.<package>.<rule>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Query {
    pub package: String,
    pub rule: String,
}

impl Query {
    pub fn kind(&self) -> Kind {
        if self.rule.starts_with("warn") {
            Kind::Warn
        } else {
            Kind::Deny
        }
    }

    /// The rule id findings carry: `main.deny`, `k8s.security.warn_ports`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.package, self.rule)
    }

    /// A rule about a merge request's change (`deny_change`, `warn_change_replicas`, ...):
    /// evaluated under `--base` on each object the merge request creates, updates or deletes,
    /// with `input.review`, never on a document.
    pub fn is_change(&self) -> bool {
        ["deny_change", "violation_change", "warn_change"]
            .iter()
            .any(|p| {
                self.rule
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
            })
    }

    /// The name an `exception` refers to: `deny_foo` → `foo`, `deny` → ``.
    fn exception_name(&self) -> &str {
        let r = self.rule.as_str();
        for prefix in ["deny", "violation", "warn"] {
            if let Some(rest) = r.strip_prefix(prefix) {
                return rest.strip_prefix('_').unwrap_or(rest);
            }
        }
        r
    }
}

/// One result of a user rule on one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub query: usize,
    pub message: String,
    /// JSON pointer from `path`, if the result had one.
    pub pointer: Option<String>,
    /// Line from conftest's `_loc`, if the result had one.
    pub line: Option<u32>,
    /// File from conftest's `_loc`, if the result had one.
    pub file: Option<String>,
}

/// Compiled user policies. Clone per thread.
#[derive(Clone)]
pub struct UserPolicies {
    engine: Engine,
    pub queries: Vec<Query>,
    /// Packages that define `exception`.
    exception_packages: BTreeSet<String>,
    /// The file `data.conftest.file` describes, and its value.
    file: Option<(String, regorus::Value)>,
}

/// Conftest's rule-name pattern: `^(deny|violation|warn)(_[a-zA-Z0-9]+)*$`.
fn is_result_rule(name: &str) -> bool {
    let rest = ["deny", "violation", "warn"]
        .iter()
        .find_map(|p| name.strip_prefix(p));
    match rest {
        None => false,
        Some(rest) => {
            rest.is_empty()
                || rest
                    .split('_')
                    .skip(1)
                    .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
                    && rest.starts_with('_')
        }
    }
}

impl UserPolicies {
    pub fn load(opts: &Options) -> anyhow::Result<Self> {
        let mut engine = Engine::new();
        engine.set_rego_v0(opts.rego_v0);
        let mut files = Vec::new();
        for dir in &opts.policy_dirs {
            if !dir.exists() {
                bail!("policy path {} does not exist", dir.display());
            }
            collect(dir, &["rego"], &mut files)
                .with_context(|| format!("reading policies under {}", dir.display()))?;
        }
        files.sort();
        if files.is_empty() {
            bail!(
                "no .rego files under {}",
                opts.policy_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        // Candidate rule names per package, from the rule heads of each file.
        let mut candidates: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        // Directories of the policies that read files with conftest's builtins.
        let mut reader_dirs = Vec::new();
        for f in &files {
            let src = crate::read::read_text(f, crate::parse::Limits::default().max_file_size)
                .with_context(|| format!("reading policy {}", f.display()))?;
            let display = crate::discover::display_path(f);
            let package = engine
                .add_policy(display.clone(), src.clone())
                .map_err(|e| anyhow::anyhow!("{}", with_hint(&e.to_string())))
                .with_context(|| format!("policy {display} does not compile"))?;
            // regorus would only fail when a call is reached, and then as an unknown function.
            if let Some((line, column)) = builtins::find_call(&src, "http.send")
                && !builtins::imports_data_http(&src)
            {
                return Err(anyhow::anyhow!(
                    "{display}:{line}:{column}: {}",
                    builtins::HTTP_HINT
                ))
                .with_context(|| format!("policy {display} does not compile"));
            }
            if ["parse_config_file", "parse_combined_config_files"]
                .iter()
                .any(|b| builtins::find_call(&src, b).is_some())
            {
                reader_dirs.push(f.parent().map(Path::to_path_buf).unwrap_or_default());
            }
            let package = package.strip_prefix("data.").unwrap_or(&package).to_owned();
            if package == "conftest"
                && engine
                    .has_declared_rule_rooted_at(&display, "file")
                    .unwrap_or(false)
            {
                bail!(
                    "policy {display} defines data.conftest.file, which kubegate sets to the \
                     file being checked, as conftest does"
                );
            }
            let set = candidates.entry(package).or_default();
            for name in rule_heads(&src) {
                set.insert((display.clone(), name));
            }
        }
        builtins::register(
            &mut engine,
            builtins::runtime(&opts.policy_env)?,
            builtins::Resolver::new(reader_dirs),
        )?;
        for dir in &opts.data_dirs {
            let mut data = load_data(dir)?;
            reserve_conftest_file(&mut data, dir)?;
            engine
                .add_data(regorus::Value::from(data))
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("data under {}", dir.display()))?;
        }
        let selected = select_namespaces(opts, candidates.keys())?;
        let mut queries = BTreeSet::new();
        let mut exception_packages = BTreeSet::new();
        for (package, names) in &candidates {
            if !selected.contains(package) {
                continue;
            }
            for (file, name) in names {
                let declared = engine
                    .has_declared_rule_rooted_at(file, name)
                    .unwrap_or(false);
                if !declared {
                    continue;
                }
                if name == "exception" {
                    exception_packages.insert(package.clone());
                } else if is_result_rule(name) {
                    queries.insert(Query {
                        package: package.clone(),
                        rule: name.clone(),
                    });
                }
            }
        }
        // Compile now, so errors surface before any file is checked.
        engine.set_input(regorus::Value::new_object());
        builtins::set_current_file(&regorus::Value::Undefined);
        for q in &queries {
            engine
                .eval_rule(format!("data.{}.{}", q.package, q.rule))
                .map_err(|e| anyhow::anyhow!("{}", with_hint(&e.to_string())))
                .with_context(|| format!("policy rule data.{}.{}", q.package, q.rule))?;
        }
        Ok(Self {
            engine,
            queries: queries.into_iter().collect(),
            exception_packages,
            file: None,
        })
    }

    /// Sets the file that `data.conftest.file` describes for the next evaluations: a display
    /// path (relative to the working directory, or absolute), or [`COMBINED`] for
    /// `--combine`, as conftest does. Cheap when the file does not change.
    pub fn set_file(&mut self, file: &str) {
        if self.file.as_ref().is_none_or(|(f, _)| f != file) {
            self.file = Some((file.to_owned(), builtins::file_info(file)));
        }
    }

    /// Evaluates every selected rule on one input (a document), but the change rules.
    /// Returns results and the number of rules whose results an `exception` dropped.
    pub fn evaluate(&mut self, input: &serde_json::Value) -> anyhow::Result<(Vec<Outcome>, usize)> {
        self.evaluate_some(|| super::to_rego(input), false)
    }

    /// [`UserPolicies::evaluate`] on a document already converted with
    /// [`super::to_rego`] (for the built-in rules too: converted once).
    pub fn evaluate_rego(
        &mut self,
        input: &regorus::Value,
    ) -> anyhow::Result<(Vec<Outcome>, usize)> {
        self.evaluate_some(|| input.clone(), false)
    }

    /// Whether some selected rule is a change rule ([`Query::is_change`]).
    pub fn has_change_rules(&self) -> bool {
        self.queries.iter().any(Query::is_change)
    }

    /// Evaluates the change rules ([`Query::is_change`]) on the input of one object's change
    /// (`{"review": ...}`).
    pub fn evaluate_change(
        &mut self,
        input: &serde_json::Value,
    ) -> anyhow::Result<(Vec<Outcome>, usize)> {
        self.evaluate_some(|| super::to_rego(input), true)
    }

    fn evaluate_some(
        &mut self,
        input: impl FnOnce() -> regorus::Value,
        change: bool,
    ) -> anyhow::Result<(Vec<Outcome>, usize)> {
        let mut out = Vec::new();
        if !self.queries.iter().any(|q| q.is_change() == change) {
            return Ok((out, 0));
        }
        self.engine.set_input(input());
        // Per thread: each thread evaluates with its own clone of the engine.
        builtins::set_current_file(
            self.file
                .as_ref()
                .map_or(&regorus::Value::Undefined, |(_, v)| v),
        );
        let mut exceptions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in &self.exception_packages {
            let v = self
                .engine
                .eval_rule(format!("data.{p}.exception"))
                .map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))
                .with_context(|| format!("evaluating data.{p}.exception"))?;
            let names = exceptions.entry(p.clone()).or_default();
            for_each_item(&v, |item| {
                for_each_item(item, |name| {
                    if let Ok(s) = name.as_string() {
                        names.insert(s.to_string());
                    }
                });
            });
        }
        let mut excepted = 0;
        for (i, q) in self.queries.iter().enumerate() {
            if q.is_change() != change {
                continue;
            }
            let v = self
                .engine
                .eval_rule(format!("data.{}.{}", q.package, q.rule))
                .map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))
                .with_context(|| format!("evaluating data.{}.{}", q.package, q.rule))?;
            if exceptions
                .get(&q.package)
                .is_some_and(|names| names.contains(q.exception_name()))
            {
                excepted += 1;
                continue;
            }
            let mut err = None;
            for_each_item(&v, |item| {
                if let Ok(s) = item.as_string() {
                    out.push(Outcome {
                        query: i,
                        message: s.to_string(),
                        pointer: None,
                        line: None,
                        file: None,
                    });
                } else if item.as_object().is_ok() {
                    let Ok(msg) = item["msg"].as_string() else {
                        err = Some(format!(
                            "data.{}.{} returned an object without a string `msg`",
                            q.package, q.rule
                        ));
                        return;
                    };
                    let pointer = super::path_to_pointer(&item["path"]);
                    let line = item["_loc"]["line"].as_u64().ok().map(|l| l as u32);
                    let file = item["_loc"]["file"].as_string().ok().map(|f| f.to_string());
                    out.push(Outcome {
                        query: i,
                        message: msg.to_string(),
                        pointer: (!pointer.is_empty()).then_some(pointer),
                        line,
                        file,
                    });
                }
            });
            if let Some(e) = err {
                bail!(e);
            }
        }
        Ok((out, excepted))
    }
}

/// regorus's evaluation errors quote the source over several lines
/// (`--> file:line:col`, the line, a caret, `error: message`); a finding's message is
/// better as one line: `file:line:col: message`. Anything else is kept as it is.
fn one_line(message: &str) -> String {
    let location = message
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "));
    let error = message.split_once("\nerror: ").map(|(_, m)| m.trim());
    match (location, error) {
        (Some(location), Some(error)) => format!("{}: {error}", location.trim()),
        _ => message.trim().to_owned(),
    }
}

/// Adds the reason to an error that mentions `http.send` (unless it is already there).
fn with_hint(message: &str) -> String {
    if message.contains("http.send") && !message.contains(builtins::HTTP_HINT) {
        format!("{message}\nhint: {}", builtins::HTTP_HINT)
    } else {
        message.to_owned()
    }
}

/// `data.conftest.file` is kubegate's to set, as in conftest, where the file information
/// written before each file replaces whatever a data file put there. Other keys under
/// `data.conftest` stay.
fn reserve_conftest_file(data: &mut serde_json::Value, dir: &Path) -> anyhow::Result<()> {
    match data.get_mut("conftest") {
        None => Ok(()),
        Some(serde_json::Value::Object(map)) => {
            map.remove("file");
            Ok(())
        }
        Some(_) => bail!(
            "data under {} sets `conftest` to a value that is not a mapping; data.conftest.file \
             holds the file being checked",
            dir.display()
        ),
    }
}

/// Calls `f` on each element of a set or array (other values have none).
fn for_each_item(v: &regorus::Value, mut f: impl FnMut(&regorus::Value)) {
    if let Ok(set) = v.as_set() {
        set.iter().for_each(&mut f);
    } else if let Ok(arr) = v.as_array() {
        arr.iter().for_each(&mut f);
    }
}

/// Names of rules defined at the start of a line: `deny[msg] {`, `warn_x contains m if`,
/// `exception contains rules if`, `violation := ...`.
fn rule_heads(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in src.lines() {
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && (is_result_rule(&name) || name == "exception") {
            out.insert(name);
        }
    }
    out
}

fn select_namespaces<'a>(
    opts: &Options,
    packages: impl Iterator<Item = &'a String>,
) -> anyhow::Result<BTreeSet<String>> {
    let packages: Vec<&String> = packages.collect();
    if opts.all_namespaces {
        return Ok(packages.into_iter().cloned().collect());
    }
    let wanted: Vec<String> = if opts.namespaces.is_empty() {
        vec!["main".to_owned()]
    } else {
        opts.namespaces.clone()
    };
    let mut matchers: Vec<GlobMatcher> = Vec::new();
    for ns in &wanted {
        let glob = GlobBuilder::new(ns)
            .literal_separator(false)
            .build()
            .with_context(|| format!("invalid --namespace pattern `{ns}`"))?;
        matchers.push(glob.compile_matcher());
    }
    Ok(packages
        .into_iter()
        .filter(|p| matchers.iter().any(|m| m.is_match(p.as_str())))
        .cloned()
        .collect())
}

fn collect(path: &Path, exts: &[&str], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for e in std::fs::read_dir(path)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, exts, out)?;
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| exts.contains(&x))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Loads a `--data` directory the way OPA's loader (and so conftest) does: each file's
/// directory, relative to `root`, is its prefix under `data`; its top-level keys merge in.
pub fn load_data(root: &Path) -> anyhow::Result<serde_json::Value> {
    let mut files = Vec::new();
    collect(root, &["json", "yaml", "yml"], &mut files)
        .with_context(|| format!("reading data under {}", root.display()))?;
    files.sort();
    let mut data = serde_json::Value::Object(Default::default());
    for f in files {
        let text = crate::read::read_text(&f, crate::parse::Limits::default().max_file_size)
            .with_context(|| format!("reading data file {}", f.display()))?;
        let value: serde_json::Value = if f.extension().is_some_and(|x| x == "json") {
            serde_json::from_str(&text)
                .with_context(|| format!("data file {} is not valid JSON", f.display()))?
        } else {
            let (docs, issues) = crate::parse::yaml::parse(&text, &Default::default());
            if let Some(i) = issues.first() {
                bail!("data file {}: {}", f.display(), i.message);
            }
            docs.into_iter().next().map(|d| d.value).unwrap_or_default()
        };
        if value.is_null() {
            continue;
        }
        let rel = f
            .parent()
            .and_then(|p| p.strip_prefix(root).ok())
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let mut slot = &mut data;
        for comp in rel.components() {
            let key = comp.as_os_str().to_string_lossy().into_owned();
            let Some(map) = slot.as_object_mut() else {
                bail!(
                    "data file {} conflicts with a value at its path",
                    f.display()
                );
            };
            slot = map
                .entry(key)
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
        }
        merge(slot, value, &f)?;
    }
    Ok(data)
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value, file: &Path) -> anyhow::Result<()> {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge(existing, v, file)?
                    }
                    Some(_) => bail!("data file {} redefines `{k}`", file.display()),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
            Ok(())
        }
        _ => bail!(
            "data file {} must hold a mapping at its top level",
            file.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conftest_rule_names() {
        for ok in [
            "deny",
            "violation",
            "warn",
            "deny_foo",
            "warn_a_b2",
            "violation_x",
        ] {
            assert!(is_result_rule(ok), "{ok}");
        }
        for no in [
            "denyx",
            "deny_",
            "warning",
            "deny__x",
            "allow",
            "exception",
            "deny-x",
        ] {
            assert!(!is_result_rule(no), "{no}");
        }
    }

    #[test]
    fn data_files_merge_under_their_directory_and_conflicts_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("allowed/more")).unwrap();
        std::fs::write(dir.path().join("top.yaml"), "limits: {cpu: 2}\n").unwrap();
        std::fs::write(
            dir.path().join("allowed/r.json"),
            r#"{"registries": ["a/"]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("allowed/more/x.yml"), "z: true\n").unwrap();
        let data = load_data(dir.path()).unwrap();
        assert_eq!(
            data,
            serde_json::json!({"limits": {"cpu": 2}, "allowed": {"registries": ["a/"], "more": {"z": true}}})
        );
        std::fs::write(dir.path().join("clash.yaml"), "allowed: 3\n").unwrap();
        let err = load_data(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("allowed") || err.contains("conflicts"),
            "{err}"
        );
    }

    #[test]
    fn conftest_file_follows_set_file_on_one_engine() {
        let mut user = UserPolicies::load(&Options {
            policy_dirs: vec![PathBuf::from("fixtures/conftest/fileinfo/policy")],
            ..Options::default()
        })
        .unwrap();
        let mut names = |file: &str| {
            user.set_file(file);
            let (out, _) = user.evaluate(&serde_json::json!({"kind": "Pod"})).unwrap();
            out.into_iter().map(|o| o.message).collect::<Vec<_>>()
        };
        let cwd = std::env::current_dir().unwrap();
        let a = names("a/x.yaml");
        assert_eq!(a, [format!("x.yaml in {}", cwd.join("a").display())]);
        assert_eq!(names("a/x.yaml"), a);
        assert_eq!(names("/b/y.yaml"), ["y.yaml in /b"]);
        assert_eq!(names(COMBINED), [format!("Combined in {}", cwd.display())]);
    }

    #[test]
    fn evaluation_errors_become_one_line() {
        let regorus = "\n--> p/main.rego:8:24\n  |\n8 |   x := f(1)\n  |        ^\nerror: f: bad";
        assert_eq!(one_line(regorus), "p/main.rego:8:24: f: bad");
        assert_eq!(one_line(" plain error\n"), "plain error");
    }

    #[test]
    fn exception_names() {
        let q = |r: &str| Query {
            package: "main".into(),
            rule: r.into(),
        };
        assert_eq!(q("deny_foo").exception_name(), "foo");
        assert_eq!(q("warn_foo").exception_name(), "foo");
        assert_eq!(q("violation").exception_name(), "");
    }
}
