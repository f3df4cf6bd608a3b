//! The configuration file: `.kubegate.yaml` in the working directory (or the nearest parent
//! up to the repository root), or `--config FILE`. Command-line flags override it.
//!
//! Unknown keys are errors at their line, so a typo never silently disables a setting.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use crate::finding::{Finding, Severity};
use crate::parse::Document;

/// File names searched for, in order.
pub const FILE_NAMES: &[&str] = &[".kubegate.yaml", ".kubegate.yml"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    pub fail_on: Option<String>,
    pub reject_missing_schemas: Option<bool>,
    /// CRD manifests outside the checked paths (`--crds`), relative to the config file.
    #[serde(default)]
    pub crds: Vec<PathBuf>,
    /// kubeconform's `-schema-location` templates (`--schema-location`), relative to the
    /// config file.
    #[serde(default)]
    pub schema_location: Vec<String>,
    #[serde(default)]
    pub rules: Rules,
    #[serde(default)]
    pub policies: Vec<PathBuf>,
    #[serde(default)]
    pub data: Vec<PathBuf>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    pub all_namespaces: Option<bool>,
    pub rego_v0: Option<bool>,
    /// Environment variables (globs) that `opa.runtime().env` shows to policies.
    #[serde(default)]
    pub policy_env: Vec<String>,
    pub inline_suppressions: Option<bool>,
    #[serde(default)]
    pub suppressions: Vec<Suppression>,
    #[serde(default)]
    pub render: Render,
    /// Chart renderings to check (`helm:`), besides those GitOps objects ask for.
    #[serde(default)]
    pub helm: Vec<HelmRendering>,
    /// Help for teams moving from other tools (`migration:`).
    #[serde(default)]
    pub migration: Migration,
    /// What may be fetched (`network:`); in CI read from the merge request's base.
    #[serde(default)]
    pub network: Network,
}

/// `network:`: the hosts charts may be fetched from (`--allow-host`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Network {
    #[serde(default)]
    pub allow_hosts: Vec<String>,
}

/// `migration:`: what kubegate honours of the tools a team moves from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Migration {
    /// Tools (`checkov`, `kube-linter`) whose skip annotations silence the built-in rules
    /// equivalent to the check they skip. Off by default.
    #[serde(default)]
    pub honour_annotations: Vec<String>,
}

/// The tools whose skip annotations kubegate can honour.
pub const ANNOTATION_TOOLS: &[&str] = &["checkov", "kube-linter"];

impl Migration {
    /// The peers to honour (names are checked when the file is loaded).
    pub fn peers(&self) -> crate::suppress::Peers {
        let has = |tool: &str| {
            self.honour_annotations
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case(tool))
        };
        crate::suppress::Peers {
            checkov: has("checkov"),
            kube_linter: has("kube-linter"),
        }
    }
}

/// One chart rendering (`helm:` entries): `helm template <release> <chart> -n <namespace>
/// -f <values>... --set <set>...`; paths relative to the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmRendering {
    pub chart: PathBuf,
    pub release: Option<String>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub values: Vec<PathBuf>,
    #[serde(default)]
    pub set: Vec<String>,
}

/// Which kustomizations are rendered (`render:`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Render {
    /// `false`: nothing is rendered, as with `--no-render`.
    pub enabled: Option<bool>,
    /// Globs over directories (relative to the repository root): when given, exactly the
    /// kustomizations in matching directories are rendered as roots, instead of the roots
    /// kubegate finds (GitOps objects' paths, kustomizations no other one uses).
    #[serde(default)]
    pub roots: Vec<String>,
    /// Globs over directories never rendered as roots.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Which built-in rules run, and at what severity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Only these rules (ids, names or categories) run; default: all.
    #[serde(default)]
    pub enable: Vec<String>,
    /// These rules (ids, names or categories) do not run.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Severity per rule id or name (any rule, schema and user rules included).
    #[serde(default)]
    pub severity: std::collections::BTreeMap<String, Severity>,
}

/// A suppression scoped by path, kind, namespace and name, with a reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Rule ids or names.
    pub rules: Vec<String>,
    /// Why: required, so every exemption is explained in review.
    pub reason: String,
    /// Globs over file paths; any matches.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
}

/// A loaded configuration and where it came from.
pub struct Loaded {
    pub config: Config,
    /// Display path of the file.
    pub file: String,
    pub dir: PathBuf,
    text: String,
    doc: Option<Document>,
}

/// Finds the configuration file: `explicit`, else `.kubegate.yaml` in `start` or its
/// parents, stopping at the directory that holds `.git`.
pub fn find(explicit: Option<&Path>, start: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let mut dir = Some(start);
    while let Some(d) = dir {
        for name in FILE_NAMES {
            let candidate = d.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
        if d.join(".git").exists() {
            break;
        }
        dir = d.parent();
    }
    None
}

/// Reads and validates a configuration file; errors name the file, line and column.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    load_as(path, &crate::discover::display_path(path))
}

/// [`load`], the file named `file` in errors and findings (`base:.kubegate.yaml` for the
/// copy of the merge request's base, not its temporary path).
pub fn load_as(path: &Path, file: &str) -> anyhow::Result<Loaded> {
    let text = crate::read::read_text(path, crate::parse::Limits::default().max_file_size)
        .map_err(|e| anyhow::anyhow!("cannot read config {file}: {e}"))?;
    from_text_as(text, path, file.to_owned())
}

/// Validates the text of a configuration file read from `path` (which only names it in
/// errors and resolves its relative paths); errors name the file, line and column.
pub fn from_text(text: String, path: &Path) -> anyhow::Result<Loaded> {
    from_text_as(text, path, crate::discover::display_path(path))
}

fn from_text_as(text: String, path: &Path, file: String) -> anyhow::Result<Loaded> {
    let (docs, issues) = crate::parse::yaml::parse(&text, &Default::default());
    let lines = crate::source::LineIndex::new(&text);
    if let Some(i) = issues.first() {
        let p = lines.position(&text, i.start as usize);
        anyhow::bail!("{file}:{}:{}: {}", p.line, p.column, i.message);
    }
    let doc = docs.into_iter().find(|d| !d.value.is_null());
    let config = match &doc {
        None => Config::default(),
        Some(d) => Config::deserialize(&d.value).map_err(|e| {
            let msg = e.to_string();
            // serde names the offending key: point at it.
            let at = msg
                .split('`')
                .nth(1)
                .and_then(|key| {
                    d.source_map
                        .pointers(&text)
                        .into_iter()
                        .find(|(p, _)| p.rsplit('/').next() == Some(key))
                })
                .and_then(|(_, loc)| loc.key.map(|k| k.start))
                .map(|o| lines.position(&text, o));
            match at {
                Some(p) => anyhow::anyhow!("{file}:{}:{}: {msg}", p.line, p.column),
                None => anyhow::anyhow!("{file}: {msg}"),
            }
        })?,
    };
    if let Some(d) = &doc {
        check_rule_names(&config.rules, &file, &text, d, &lines)?;
        check_migration(&config.migration, &file, &text, d, &lines)?;
    }
    for s in &config.suppressions {
        if s.reason.trim().is_empty() {
            anyhow::bail!("{file}: every suppression needs a non-empty `reason`");
        }
        for g in &s.paths {
            Glob::new(g).map_err(|e| anyhow::anyhow!("{file}: invalid path glob `{g}`: {e}"))?;
        }
    }
    for g in config.render.roots.iter().chain(&config.render.exclude) {
        Glob::new(g).map_err(|e| anyhow::anyhow!("{file}: invalid render glob `{g}`: {e}"))?;
    }
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Loaded {
        config,
        file,
        dir,
        text,
        doc,
    })
}

/// A rule name in `rules.enable`, `rules.disable` or `rules.severity` that matches no rule
/// would switch rules off (a typo in `enable` disables every rule) or do nothing: each is
/// an error at its line.
fn check_rule_names(
    rules: &Rules,
    file: &str,
    text: &str,
    doc: &Document,
    lines: &crate::source::LineIndex,
) -> anyhow::Result<()> {
    let builtins = crate::policy::rules().map_err(|e| anyhow::anyhow!("built-in rules: {e}"))?;
    let at = |pointer: &str, key: bool| {
        let loc = doc.source_map.locate(pointer, text);
        let offset = loc.map_or(0, |l| match (key, l.key) {
            (true, Some(k)) => k.start,
            _ => l.value.start,
        });
        let p = lines.position(text, offset);
        format!("{file}:{}:{}", p.line, p.column)
    };
    let suggest = |spec: &str, candidates: &mut dyn Iterator<Item = &str>| {
        candidates
            .map(|c| {
                (
                    strsim::jaro_winkler(&spec.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                    c,
                )
            })
            .filter(|(score, _)| *score > 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, c)| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default()
    };
    for (list, specs) in [("enable", &rules.enable), ("disable", &rules.disable)] {
        for (i, spec) in specs.iter().enumerate() {
            if builtins.iter().any(|r| selects(spec, r)) {
                continue;
            }
            let hint = suggest(
                spec,
                &mut builtins
                    .iter()
                    .flat_map(|r| [r.id.as_str(), r.name.as_str(), r.category.as_str()]),
            );
            anyhow::bail!(
                "{}: rules.{list}: `{spec}` is no built-in rule id, name or category{hint}; \
                 see `kubegate rules`",
                at(&format!("/rules/{list}/{i}"), false)
            );
        }
    }
    for key in rules.severity.keys() {
        let known = builtins
            .iter()
            .any(|r| crate::suppress::designates(key, &r.id, Some(&r.name)))
            || crate::rule::core_rule(key).is_some()
            // A user policy's rule, `<package>.<rule>`.
            || key.contains('.');
        if known {
            continue;
        }
        let hint = suggest(
            key,
            &mut builtins
                .iter()
                .flat_map(|r| [r.id.as_str(), r.name.as_str()])
                .chain(crate::rule::CORE_RULES.iter().map(|r| r.id)),
        );
        anyhow::bail!(
            "{}: rules.severity: `{key}` is no rule id or name{hint}; see `kubegate rules` \
             (user policy rules are `<package>.<rule>`)",
            at(
                &format!("/rules/severity/{}", crate::parse::source_map::escape(key)),
                true
            )
        );
    }
    Ok(())
}

/// `migration.honourAnnotations` names only tools whose annotations kubegate reads: any
/// other name is an error at its line.
fn check_migration(
    m: &Migration,
    file: &str,
    text: &str,
    doc: &Document,
    lines: &crate::source::LineIndex,
) -> anyhow::Result<()> {
    for (i, tool) in m.honour_annotations.iter().enumerate() {
        let name = tool.trim();
        if ANNOTATION_TOOLS
            .iter()
            .any(|t| t.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let offset = doc
            .source_map
            .locate(&format!("/migration/honourAnnotations/{i}"), text)
            .map_or(0, |l| l.value.start);
        let p = lines.position(text, offset);
        let why = if name.eq_ignore_ascii_case("trivy") {
            "trivy has no skip annotation for Kubernetes manifests (it reads `.trivyignore`)"
        } else {
            "unknown tool"
        };
        anyhow::bail!(
            "{file}:{}:{}: migration.honourAnnotations: `{name}`: {why}; expected one of: {}",
            p.line,
            p.column,
            ANNOTATION_TOOLS.join(", ")
        );
    }
    Ok(())
}

impl Loaded {
    /// A path from the config, relative to the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() || self.dir.as_os_str().is_empty() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// Applies the config's suppressions to `findings` and reports unused ones (at their
    /// entry in the config file). Returns how many findings were silenced.
    pub fn apply_suppressions(
        &self,
        findings: &mut Vec<Finding>,
        name_of: &dyn Fn(&str) -> Option<String>,
    ) -> usize {
        let matchers: Vec<Vec<GlobMatcher>> = self
            .config
            .suppressions
            .iter()
            .map(|s| {
                s.paths
                    .iter()
                    .filter_map(|g| Glob::new(g).ok().map(|g| g.compile_matcher()))
                    .collect()
            })
            .collect();
        let mut used = vec![false; self.config.suppressions.len()];
        let before = findings.len();
        findings.retain(|f| {
            let name = name_of(&f.rule);
            let mut keep = true;
            for (i, s) in self.config.suppressions.iter().enumerate() {
                if s.matches(f, name.as_deref(), &matchers[i]) {
                    used[i] = true;
                    keep = false;
                }
            }
            keep
        });
        let silenced = before - findings.len();
        for (i, _) in self.config.suppressions.iter().enumerate() {
            if !used[i] {
                findings.push(self.unused(i));
            }
        }
        silenced
    }

    fn unused(&self, i: usize) -> Finding {
        let lines = crate::source::LineIndex::new(&self.text);
        let offset = self
            .doc
            .as_ref()
            .and_then(|d| {
                d.source_map
                    .locate(&format!("/suppressions/{i}"), &self.text)
            })
            .map_or(0, |l| l.value.start);
        let p = lines.position(&self.text, offset);
        let s = &self.config.suppressions[i];
        Finding {
            rule: "unused-suppression".into(),
            severity: Severity::Warning,
            message: format!(
                "config suppression of {} (\"{}\") matched no finding; remove it",
                s.rules.join(", "),
                s.reason
            ),
            file: self.file.as_str().into(),
            start: p,
            end: p,
            byte_start: offset,
            byte_end: offset,
            document: Some(0),
            object: None,
            path: Some(format!("/suppressions/{i}")),
            help: None,
            rendered: Vec::new(),
        }
    }

    /// Applies the severity overrides.
    pub fn apply_severities(
        &self,
        findings: &mut [Finding],
        name_of: &dyn Fn(&str) -> Option<String>,
    ) {
        if self.config.rules.severity.is_empty() {
            return;
        }
        for f in findings {
            let name = name_of(&f.rule);
            for (key, sev) in &self.config.rules.severity {
                if crate::suppress::designates(key, &f.rule, name.as_deref()) {
                    f.severity = *sev;
                }
            }
        }
    }
}

impl Suppression {
    fn matches(&self, f: &Finding, name: Option<&str>, paths: &[GlobMatcher]) -> bool {
        if !self
            .rules
            .iter()
            .any(|r| crate::suppress::designates(r, &f.rule, name))
        {
            return false;
        }
        if !paths.is_empty() && !paths.iter().any(|m| m.is_match(&*f.file)) {
            return false;
        }
        let o = f.object.as_ref();
        let field = |wanted: &[String], have: Option<&str>| {
            wanted.is_empty() || have.is_some_and(|h| wanted.iter().any(|w| w == h))
        };
        field(&self.kinds, o.map(|o| o.kind.as_str()))
            && field(&self.namespaces, o.and_then(|o| o.namespace.as_deref()))
            && field(&self.names, o.and_then(|o| o.name.as_deref()))
    }
}

/// A schema location of the config (`schemaLocation`), a path relative to the config file:
/// `default` and URLs (refused later, as given) are kept as they are.
pub fn resolve_location(cfg: &Loaded, location: &str) -> String {
    if location == "default" || location.contains("://") || location.trim().is_empty() {
        return location.to_owned();
    }
    cfg.resolve(Path::new(location))
        .to_string_lossy()
        .into_owned()
}

/// Whether `spec` (an id, a name or a category) selects the built-in rule `r`.
pub fn selects(spec: &str, r: &crate::policy::RuleMeta) -> bool {
    crate::suppress::designates(spec, &r.id, Some(&r.name))
        || spec.eq_ignore_ascii_case(&r.category)
}
