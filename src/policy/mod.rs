//! Stage 4: Rego policies, evaluated with `regorus`.
//!
//! Built-in rules live under `policies/`, one rule a file, embedded in the binary. Each rule
//! package defines `violation contains {"msg": ..., "path": [...]}`; `path` is the list of
//! keys and indices from the object's root to the offending field, so the finding lands on
//! that field's line. kubegate generates one aggregating module over the enabled rules and
//! evaluates it once per object on a per-thread clone of a prepared engine.

pub(crate) mod cache;
pub mod metadata;
pub mod user;

use std::collections::{BTreeSet, HashMap};

use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail};
use rayon::prelude::*;
use regorus::Engine;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::{Program, RegoVM};

pub use metadata::{RuleMeta, Scope};

use crate::parse::source_map::escape;

/// Every `(path under policies/, source)` pair, embedded at build time.
pub const SOURCES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/policies.rs"));

/// The metadata of every built-in rule, sorted by id; errors name the offending file.
/// Parsed once per process.
pub fn rules() -> Result<Vec<RuleMeta>, String> {
    static RULES: std::sync::OnceLock<Result<Vec<RuleMeta>, String>> = std::sync::OnceLock::new();
    RULES.get_or_init(parse_rules).clone()
}

fn parse_rules() -> Result<Vec<RuleMeta>, String> {
    let mut rules = Vec::new();
    for (path, src) in SOURCES {
        if is_rule_file(path) {
            rules.push(metadata::parse(path, src)?);
        }
    }
    rules.sort_by(|a, b| a.id.cmp(&b.id));
    check_unique(&rules)?;
    Ok(rules)
}

/// Ids and names are unique across all rules.
pub fn check_unique(rules: &[RuleMeta]) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    for r in rules {
        if !ids.insert(r.id.as_str()) {
            return Err(format!("{}: duplicate rule id {}", r.file, r.id));
        }
        if !names.insert(r.name.as_str()) {
            return Err(format!("{}: duplicate rule name {}", r.file, r.name));
        }
    }
    Ok(())
}

/// Rule files are everything but the shared library and Rego unit tests.
fn is_rule_file(path: &str) -> bool {
    !path.starts_with("lib/") && !path.ends_with("_test.rego")
}

/// Finds a rule by id (`KG101`) or name (`privileged-container`), case-insensitively.
pub fn find<'a>(rules: &'a [RuleMeta], key: &str) -> Option<&'a RuleMeta> {
    rules
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(key))
}

/// One violation reported by a rule for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Index into the rule list the engine was built with.
    pub rule: usize,
    pub message: String,
    /// JSON pointer relative to the object.
    pub pointer: String,
}

/// A prepared engine over the enabled built-in rules. Clone it per thread.
///
/// Rules are grouped by the kinds they apply to, with one generated entry rule per group,
/// so an object is evaluated only against the rules for its kind, and an object no rule
/// applies to (a CRD, a ConfigMap) is never converted to a Rego value at all.
///
/// Two ways to run the rules: regorus's tree-walking interpreter, or its virtual machine
/// (compiled, about twice as fast, the default). `tests/engines.rs` runs both over every
/// fixture and the whole corpus and requires identical results: regorus 0.14.1's VM does
/// not fall through to `else` when a body ends on an undefined value, so rules must end
/// such bodies on a defined `false` (see `policies/README.md`).
#[derive(Clone)]
pub struct Builtins {
    pub rules: Vec<RuleMeta>,
    engine: Engine,
    /// Kind specs of each group; group `g` is queried as `data.kubegate.run.group_<g>`.
    groups: Vec<Vec<String>>,
    /// The rules (indices into `rules`) of each group.
    group_rules: Vec<Vec<usize>>,
    /// Under `--timings`: each rule is evaluated on its own entry point, and timed.
    per_rule: bool,
    /// Groups that apply to each kind seen so far (per thread).
    by_kind: HashMap<String, Vec<usize>>,
    vm: Option<Vm>,
    /// The enabled inventory-scope rules, compiled on first use (a run without objects of
    /// their kinds never compiles them); shared by the per-thread clones.
    inventory: Arc<OnceLock<Result<Option<Inventory>, String>>>,
    /// The enabled change-scope rules, compiled on first use (only a run with `--base`
    /// uses them); shared by the per-thread clones.
    changes: Arc<OnceLock<Result<Option<ChangeRules>, String>>>,
}

/// The rules about what a merge request does to an object ([`Scope::Change`]), in one
/// prepared engine (interpreted: a merge request changes few objects). Shared by the
/// per-thread clones of [`Builtins`]; each evaluation clones the engine.
struct ChangeRules {
    /// The change rules grouped by the kinds they apply to: each group's kinds and the
    /// index (into `Builtins::rules`) of one of its rules. Group `g` is queried as
    /// `data.kubegate.change.group_<g>`, which holds `[rule index, violation]` pairs, so
    /// one evaluation runs every rule of a group and the library's rules once.
    groups: Vec<(Vec<String>, usize)>,
    engine: Engine,
}

fn change_entry(g: usize) -> String {
    format!("data.kubegate.change.group_{g}")
}

/// The rules that look across objects ([`Scope::Inventory`]): each compiled and prepared in
/// its own engine, so that they are evaluated side by side, once per run. Shared, not
/// copied, by the per-thread clones of [`Builtins`].
struct Inventory {
    /// Index (into `Builtins::rules`) of each inventory rule, and its engine.
    rules: Vec<(usize, Engine)>,
}

const INVENTORY_ENTRY: &str = "data.kubegate.inventory.all";

/// The library of the inventory rules, loaded only into their engine.
const INVENTORY_LIB: &str = "lib/inventory.rego";

/// How the rules are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Interpreter,
    Vm,
}

/// The mode `Builtins::load` uses (the VM: about 2x faster; kept equal to the interpreter
/// by `tests/engines.rs`).
pub const DEFAULT_MODE: Mode = Mode::Vm;

/// Every group compiled into one program for the virtual machine (one entry point per
/// group), shared by all threads, and this thread's machine (created on first use;
/// `RegoVM` is not `Clone`).
struct Vm {
    program: Arc<Program>,
    /// What the program was compiled from ([`cache::source_key`]).
    source: String,
    machine: Option<RegoVM>,
}

impl Clone for Vm {
    fn clone(&self) -> Self {
        Self {
            program: self.program.clone(),
            source: self.source.clone(),
            machine: None,
        }
    }
}

/// This thread's own copy of `program`, made once per thread. The machine clones its
/// program's `Arc` on every rule call: two threads sharing one `Arc` make its count's cache
/// line bounce between their cores, which cost an RBAC-heavy run 4-10% of its CPU (measured).
/// The copy is kept with the program it copies, so a later program is never taken for it.
fn thread_copy(program: &Arc<Program>) -> Arc<Program> {
    type Copy = Option<(Arc<Program>, Arc<Program>)>;
    thread_local! {
        static COPY: std::cell::RefCell<Copy> = const { std::cell::RefCell::new(None) };
    }
    COPY.with(|cell| {
        let mut cell = cell.borrow_mut();
        match &*cell {
            Some((of, copy)) if Arc::ptr_eq(of, program) => copy.clone(),
            _ => {
                let copy = Arc::new(Program::clone(program));
                *cell = Some((program.clone(), copy.clone()));
                copy
            }
        }
    })
}

/// Instructions one evaluation may run in the VM (regorus's default, 25,000, is too few
/// for a large object).
const MAX_INSTRUCTIONS: usize = 50_000_000;

fn entry(g: usize) -> String {
    format!("data.kubegate.run.group_{g}")
}

impl Builtins {
    /// Compiles the library and the rules for which `enabled` holds.
    pub fn load(enabled: impl Fn(&RuleMeta) -> bool) -> anyhow::Result<Self> {
        Self::load_mode(enabled, DEFAULT_MODE)
    }

    /// [`Builtins::load`] with an explicit execution mode.
    pub fn load_mode(enabled: impl Fn(&RuleMeta) -> bool, mode: Mode) -> anyhow::Result<Self> {
        Self::load_from(enabled, mode, true)
    }

    /// [`Builtins::load_mode`]; when `reuse`, the VM's program is taken from the binary (when
    /// it is of these rules) or the cache before it is compiled.
    fn load_from(
        enabled: impl Fn(&RuleMeta) -> bool,
        mode: Mode,
        reuse: bool,
    ) -> anyhow::Result<Self> {
        let rules: Vec<RuleMeta> = rules()
            .map_err(|e| anyhow::anyhow!(e))?
            .into_iter()
            .filter(|r| enabled(r))
            .collect();
        let per_rule = crate::timings::enabled();
        let mut groups: Vec<Vec<String>> = Vec::new();
        let mut group_rules: Vec<Vec<usize>> = Vec::new();
        let mut run = String::from("package kubegate.run\n\nimport rego.v1\n\n");
        for (i, r) in rules.iter().enumerate() {
            if r.scope != Scope::Object {
                continue;
            }
            let g = match groups.iter().position(|g| *g == r.kinds) {
                Some(g) => g,
                None => {
                    groups.push(r.kinds.clone());
                    group_rules.push(Vec::new());
                    groups.len() - 1
                }
            };
            group_rules[g].push(i);
            run.push_str(&format!(
                "group_{g} contains [{i}, v] if {{\n\tsome v in data.{}.violation\n}}\n\n",
                r.package
            ));
        }
        let engine_of = |run: String| -> anyhow::Result<Engine> {
            let mut engine = library_engine(&rules, Scope::Object)?;
            engine.add_policy("kubegate-run.rego".into(), run)?;
            Ok(engine)
        };
        let (engine, vm) = match mode {
            Mode::Interpreter => {
                let mut engine = engine_of(run)?;
                // Prepare (analyse and schedule) once here, not once per thread.
                engine.set_input(regorus::Value::new_object());
                for g in 0..groups.len() {
                    engine.eval_rule(entry(g))?;
                }
                (engine, None)
            }
            // Nothing to compile when only inventory rules are enabled.
            Mode::Vm if groups.is_empty() => (Engine::new(), None),
            Mode::Vm => {
                // One program for every group: the policy is analysed and compiled once,
                // or taken from the binary (the default rules), or read from the cache of
                // an earlier run of this same binary and rules.
                let mut names: Vec<String> = (0..groups.len()).map(entry).collect();
                if per_rule {
                    names.extend(group_rules.iter().flatten().map(|&i| rule_entry(&rules[i])));
                }
                let source = cache::source_key(
                    rules
                        .iter()
                        .map(|r| r.id.as_bytes())
                        .chain([run.as_bytes()])
                        .chain(names.iter().map(|n| n.as_bytes())),
                );
                let cache = cache::dir()
                    .filter(|_| reuse)
                    .map(|dir| (dir, cache::key(&source)));
                let cached = if reuse {
                    cache::precompiled(&source)
                        .or_else(|| cache.as_ref().and_then(|(dir, key)| cache::read(dir, key)))
                } else {
                    None
                };
                let program = match cached {
                    Some(program) => program,
                    None => {
                        let entries: Vec<&str> = names.iter().map(String::as_str).collect();
                        let compiled = engine_of(run)?
                            .compile_with_entrypoint(&entry(0).into())
                            .context("compiling built-in rules")?;
                        let program = Compiler::compile_from_policy(&compiled, &entries)
                            .context("compiling built-in rules")?;
                        if let Some((dir, key)) = &cache {
                            cache::write(dir, key, &program);
                        }
                        program
                    }
                };
                // The machine needs only the program: the interpreter never runs.
                (
                    Engine::new(),
                    Some(Vm {
                        program,
                        source,
                        machine: None,
                    }),
                )
            }
        };
        Ok(Self {
            rules,
            engine,
            groups,
            group_rules,
            per_rule,
            by_kind: HashMap::new(),
            vm,
            inventory: Arc::default(),
            changes: Arc::default(),
        })
    }

    /// An evaluator of the enabled change-scope rules, with its own copy of their engine
    /// (one per thread); `None` when none is enabled.
    /// A rule that fails to compile makes every evaluation fail with its error.
    pub fn change_evaluator(&self) -> Option<ChangeEvaluator<'_>> {
        if !self.judges_changes() {
            return None;
        }
        let loaded = self
            .changes
            .get_or_init(|| ChangeRules::load(&self.rules).map_err(|e| format!("{e:#}")));
        Some(match loaded {
            Ok(c) => ChangeEvaluator {
                rules: &self.rules,
                groups: c.as_ref().map_or(&[], |c| &c.groups),
                engine: c.as_ref().map(|c| c.engine.clone()).ok_or_else(String::new),
            },
            Err(e) => ChangeEvaluator {
                rules: &self.rules,
                groups: &[],
                engine: Err(e.clone()),
            },
        })
    }

    /// Whether a change-scope rule is enabled: kubegate judges a merge request's change.
    pub fn judges_changes(&self) -> bool {
        self.rules.iter().any(|r| r.scope == Scope::Change)
    }

    /// Whether an object of `kind` is read by an inventory-scope rule (and so must be kept
    /// for [`Builtins::evaluate_inventory`]).
    pub fn in_inventory(&self, kind: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.scope == Scope::Inventory && r.applies_to(kind))
    }

    /// Evaluates the inventory-scope rules once over `objects` (every object of the run for
    /// which [`Builtins::in_inventory`] holds, in report order). Returns each violation with
    /// the index of the object it is about.
    pub fn evaluate_inventory(
        &self,
        objects: Vec<regorus::Value>,
    ) -> anyhow::Result<Vec<(usize, Violation)>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let loaded = crate::timings::measure(crate::timings::Stage::CompileRules, || {
            self.inventory
                .get_or_init(|| Inventory::load(&self.rules).map_err(|e| format!("{e:#}")))
        });
        let inv = match loaded {
            Ok(Some(inv)) => inv,
            Ok(None) => return Ok(Vec::new()),
            Err(e) => bail!("compiling the built-in inventory rules: {e}"),
        };
        let count = objects.len();
        let mut input = std::collections::BTreeMap::new();
        input.insert(
            regorus::Value::from("objects"),
            regorus::Value::from(objects),
        );
        let input = regorus::Value::from(input);
        // The interpreter, not the VM: regorus 0.14.1's VM gets the multi-value rule with a
        // variable key of the label index (`templates_by_label[pair] contains ...`) wrong,
        // and without that index the VM is slower than the interpreter with it. Each rule
        // runs on its own prepared engine, in parallel.
        let results: Vec<regorus::Value> = inv
            .rules
            .par_iter()
            .map(|(i, engine)| {
                let started = std::time::Instant::now();
                let mut engine = engine.clone();
                engine.set_input(input.clone());
                let result = engine.eval_rule(INVENTORY_ENTRY.into());
                if crate::timings::enabled() {
                    crate::timings::rule(&rule_label(&self.rules[*i]), started.elapsed());
                }
                result
            })
            .collect::<anyhow::Result<_>>()?;
        let mut violations = Vec::new();
        for pair in results.iter().filter_map(|r| r.as_set().ok()).flatten() {
            let pair = pair.as_array().map_err(|e| anyhow::anyhow!("{e}"))?;
            let (Some(idx), Some(v)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let rule = idx.as_u64().map_err(|e| anyhow::anyhow!("{e}"))? as usize;
            let Some(meta) = self.rules.get(rule) else {
                bail!("rule index {rule} out of range");
            };
            let object = v["object"].as_u64().ok().map(|o| o as usize);
            let Some(object) = object.filter(|&o| o < count) else {
                bail!(
                    "{} ({}) returned a violation without a valid `object` index",
                    meta.id,
                    meta.file
                );
            };
            let (message, pointer) = violation_parts(v);
            violations.push((
                object,
                Violation {
                    rule,
                    message: message.unwrap_or_else(|| meta.title.clone()),
                    pointer,
                },
            ));
        }
        Ok(violations)
    }
}

/// An engine holding the shared library and the rules of `scope` among `rules`.
fn library_engine(rules: &[RuleMeta], scope: Scope) -> anyhow::Result<Engine> {
    let mut engine = Engine::new();
    for (path, src) in SOURCES {
        // `lib/inventory.rego` reads `input.objects`: only inventory rules need it.
        let library = !is_rule_file(path)
            && !path.ends_with("_test.rego")
            && (*path != INVENTORY_LIB || scope == Scope::Inventory);
        let wanted = library || rules.iter().any(|r| r.file == *path && r.scope == scope);
        if wanted {
            engine
                .add_policy(format!("policies/{path}"), (*src).to_owned())
                .with_context(|| format!("built-in policy policies/{path}"))?;
        }
    }
    Ok(engine)
}

/// Evaluates the change-scope rules ([`Builtins::change_evaluator`]).
pub struct ChangeEvaluator<'a> {
    rules: &'a [RuleMeta],
    groups: &'a [(Vec<String>, usize)],
    /// The rules' engine, or why they did not compile.
    engine: Result<Engine, String>,
}

impl ChangeEvaluator<'_> {
    /// Evaluates the enabled change-scope rules that apply to `kind` on one object's
    /// change: `input` holds `review` (an admission review of the object) and, when the
    /// merge request put another object in its place, `counterpart`.
    pub fn evaluate(
        &mut self,
        kind: &str,
        input: &serde_json::Value,
    ) -> anyhow::Result<Vec<Violation>> {
        let engine = match &mut self.engine {
            Ok(engine) => engine,
            Err(e) => bail!("compiling the built-in change rules: {e}"),
        };
        let mut out = Vec::new();
        let mut input = Some(input);
        for (g, (_, example)) in self.groups.iter().enumerate() {
            if !self.rules[*example].applies_to(kind) {
                continue;
            }
            if let Some(input) = input.take() {
                engine.set_input(to_rego(input));
            }
            let results = engine.eval_rule(change_entry(g))?;
            push_pairs(&results, self.rules, &mut out)?;
        }
        Ok(out)
    }
}

impl ChangeRules {
    fn load(rules: &[RuleMeta]) -> anyhow::Result<Option<Self>> {
        let indices: Vec<usize> = (0..rules.len())
            .filter(|&i| rules[i].scope == Scope::Change)
            .collect();
        if indices.is_empty() {
            return Ok(None);
        }
        let mut engine = library_engine(rules, Scope::Change)?;
        let mut groups: Vec<(Vec<String>, usize)> = Vec::new();
        let mut run = String::from("package kubegate.change\n\nimport rego.v1\n\n");
        for &i in &indices {
            let g = match groups.iter().position(|(k, _)| *k == rules[i].kinds) {
                Some(g) => g,
                None => {
                    groups.push((rules[i].kinds.clone(), i));
                    groups.len() - 1
                }
            };
            run.push_str(&format!(
                "group_{g} contains [{i}, v] if {{\n\tsome v in data.{}.violation\n}}\n\n",
                rules[i].package
            ));
        }
        engine.add_policy("kubegate-change.rego".into(), run)?;
        // Prepare (analyse and schedule) once here, not once per evaluation.
        engine.set_input(regorus::Value::new_object());
        for g in 0..groups.len() {
            engine.eval_rule(change_entry(g))?;
        }
        Ok(Some(Self { groups, engine }))
    }
}

impl Inventory {
    fn load(rules: &[RuleMeta]) -> anyhow::Result<Option<Self>> {
        let indices: Vec<usize> = (0..rules.len())
            .filter(|&i| rules[i].scope == Scope::Inventory)
            .collect();
        if indices.is_empty() {
            return Ok(None);
        }
        // The library is parsed once; each rule's engine is a copy of it with the rule.
        let library = library_engine(&[], Scope::Inventory)?;
        let rules = indices
            .par_iter()
            .map(|&i| {
                let rule = &rules[i];
                let mut engine = library.clone();
                let (path, src) = SOURCES
                    .iter()
                    .find(|(path, _)| *path == rule.file)
                    .with_context(|| format!("the source of {}", rule.file))?;
                engine
                    .add_policy(format!("policies/{path}"), (*src).to_owned())
                    .with_context(|| format!("built-in policy policies/{path}"))?;
                let run = format!(
                    "package kubegate.inventory\n\nimport rego.v1\n\n\
                     all contains [{i}, v] if {{\n\tsome v in data.{}.violation\n}}\n",
                    rule.package
                );
                engine.add_policy("kubegate-inventory.rego".into(), run)?;
                // Prepare (analyse and schedule) once here, not once per evaluation.
                engine.set_input(regorus::Value::new_object());
                engine.eval_rule(INVENTORY_ENTRY.into())?;
                Ok((i, engine))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Some(Self { rules }))
    }
}

impl Builtins {
    /// Evaluates every enabled rule that applies to `kind` on one Kubernetes object.
    pub fn evaluate(
        &mut self,
        kind: &str,
        object: &serde_json::Value,
    ) -> anyhow::Result<Vec<Violation>> {
        self.evaluate_with(kind, || to_rego(object))
    }

    /// [`Builtins::evaluate`] on an object already converted with [`to_rego`].
    pub fn evaluate_rego(
        &mut self,
        kind: &str,
        input: &regorus::Value,
    ) -> anyhow::Result<Vec<Violation>> {
        self.evaluate_with(kind, || input.clone())
    }

    /// Whether some enabled object rule reads objects of `kind` (else they are never
    /// converted for Rego).
    pub fn reads(&mut self, kind: &str) -> bool {
        !self.groups_of(kind).is_empty()
    }

    /// The groups whose rules apply to `kind`.
    fn groups_of(&mut self, kind: &str) -> &[usize] {
        if !self.by_kind.contains_key(kind) {
            let applicable = (0..self.groups.len())
                .filter(|&g| {
                    self.rules
                        .iter()
                        .find(|r| r.kinds == self.groups[g])
                        .is_some_and(|r| r.applies_to(kind))
                })
                .collect();
            self.by_kind.insert(kind.to_owned(), applicable);
        }
        &self.by_kind[kind]
    }

    fn evaluate_with(
        &mut self,
        kind: &str,
        input: impl FnOnce() -> regorus::Value,
    ) -> anyhow::Result<Vec<Violation>> {
        self.groups_of(kind);
        let groups = &self.by_kind[kind];
        let mut out = Vec::new();
        if groups.is_empty() {
            return Ok(out);
        }
        let input = input();
        let mut machine = match &mut self.vm {
            None => {
                self.engine.set_input(input);
                None
            }
            Some(vm) => {
                let machine = match &mut vm.machine {
                    Some(m) => m,
                    slot @ None => {
                        let mut m = RegoVM::new();
                        m.load_program(thread_copy(&vm.program));
                        m.set_data(regorus::Value::new_object())?;
                        m.set_max_instructions(MAX_INSTRUCTIONS);
                        slot.insert(m)
                    }
                };
                machine.set_input(input);
                Some(machine)
            }
        };
        for &g in groups {
            if self.per_rule {
                // Each rule alone, timed (`--timings`): the same violations, slower.
                for &i in &self.group_rules[g] {
                    let name = rule_entry(&self.rules[i]);
                    let started = std::time::Instant::now();
                    let results = match machine.as_deref_mut() {
                        None => self.engine.eval_rule(name)?,
                        Some(m) => m.execute_entry_point_by_name(&name)?,
                    };
                    crate::timings::rule(&rule_label(&self.rules[i]), started.elapsed());
                    push_violations(&results, i, &self.rules, &mut out);
                }
                continue;
            }
            let results = match machine.as_deref_mut() {
                None => self.engine.eval_rule(entry(g))?,
                Some(m) => m.execute_entry_point_by_name(&entry(g))?,
            };
            push_pairs(&results, &self.rules, &mut out)?;
        }
        Ok(out)
    }
}

/// A rule's own entry point: its `violation` set.
fn rule_entry(rule: &RuleMeta) -> String {
    format!("data.{}.violation", rule.package)
}

/// How `--timings` names a rule.
fn rule_label(rule: &RuleMeta) -> String {
    format!("{} {}", rule.id, rule.name)
}

/// The violations of rule `rule` (an index into `rules`): a set, added to `out`.
fn push_violations(
    results: &regorus::Value,
    rule: usize,
    rules: &[RuleMeta],
    out: &mut Vec<Violation>,
) {
    let Ok(set) = results.as_set() else {
        return;
    };
    for v in set.iter() {
        let (message, pointer) = violation_parts(v);
        out.push(Violation {
            rule,
            message: message.unwrap_or_else(|| rules[rule].title.clone()),
            pointer,
        });
    }
}

/// The violations of a generated entry rule's result: a set of `[rule index, violation]`
/// pairs (the index into `rules`), added to `out`.
fn push_pairs(
    results: &regorus::Value,
    rules: &[RuleMeta],
    out: &mut Vec<Violation>,
) -> anyhow::Result<()> {
    let Ok(set) = results.as_set() else {
        return Ok(());
    };
    for pair in set.iter() {
        let pair = pair.as_array().map_err(|e| anyhow::anyhow!("{e}"))?;
        let (Some(idx), Some(v)) = (pair.first(), pair.get(1)) else {
            continue;
        };
        let rule = idx.as_u64().map_err(|e| anyhow::anyhow!("{e}"))? as usize;
        let Some(meta) = rules.get(rule) else {
            bail!("rule index {rule} out of range");
        };
        let (message, pointer) = violation_parts(v);
        out.push(Violation {
            rule,
            message: message.unwrap_or_else(|| meta.title.clone()),
            pointer,
        });
    }
    Ok(())
}

/// Converts a JSON value to a Rego value without cloning it first.
pub fn to_rego(v: &serde_json::Value) -> regorus::Value {
    crate::timings::measure(crate::timings::Stage::RuleInput, || convert(v))
}

fn convert(v: &serde_json::Value) -> regorus::Value {
    use serde_json::Value as J;
    match v {
        J::Null => regorus::Value::Null,
        J::Bool(b) => regorus::Value::from(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                regorus::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                regorus::Value::from(u)
            } else {
                regorus::Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        J::String(s) => regorus::Value::from(s.as_str()),
        J::Array(items) => regorus::Value::from(items.iter().map(convert).collect::<Vec<_>>()),
        J::Object(map) => {
            let mut o = std::collections::BTreeMap::new();
            for (k, v) in map {
                o.insert(regorus::Value::from(k.as_str()), convert(v));
            }
            regorus::Value::from(o)
        }
    }
}

/// `msg` and `path` of a rule result: a string, or an object with `msg` and an optional
/// `path` (a list of keys and indices, or a JSON pointer string).
pub fn violation_parts(v: &regorus::Value) -> (Option<String>, String) {
    if let Ok(s) = v.as_string() {
        return (Some(s.to_string()), String::new());
    }
    let msg = v["msg"].as_string().ok().map(|s| s.to_string());
    (msg, path_to_pointer(&v["path"]))
}

/// `["spec", "containers", 0, "image"]` → `/spec/containers/0/image`; a string that is
/// already a pointer is kept; dotted strings (`spec.containers[0].image`) are converted.
pub fn path_to_pointer(path: &regorus::Value) -> String {
    if let Ok(items) = path.as_array() {
        let mut p = String::new();
        for item in items.iter() {
            p.push('/');
            if let Ok(s) = item.as_string() {
                p.push_str(&escape(s));
            } else if let Ok(n) = item.as_u64() {
                p.push_str(&n.to_string());
            } else {
                p.push_str(&escape(&item.to_string()));
            }
        }
        return p;
    }
    if let Ok(s) = path.as_string() {
        let s: &str = s;
        if s.is_empty() || s.starts_with('/') {
            return s.to_owned();
        }
        let mut p = String::new();
        for part in s.split('.') {
            let (name, rest) = part.split_once('[').unwrap_or((part, ""));
            if !name.is_empty() {
                p.push('/');
                p.push_str(&escape(name));
            }
            for idx in rest.split('[') {
                let idx = idx.trim_end_matches(']');
                if !idx.is_empty() {
                    p.push('/');
                    p.push_str(idx);
                }
            }
        }
        return p;
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_ids_and_names_are_rejected() {
        let all = rules().unwrap();
        let mut dup = all.clone();
        let mut copy = all[1].clone();
        copy.id = all[0].id.clone();
        dup.push(copy);
        assert!(
            check_unique(&dup)
                .unwrap_err()
                .contains("duplicate rule id")
        );
        let mut dup = all.clone();
        let mut copy = all[1].clone();
        copy.id = "KG999".into();
        dup.push(copy);
        assert!(
            check_unique(&dup)
                .unwrap_err()
                .contains("duplicate rule name")
        );
    }

    /// regorus's VM compiles a rule reached through an import alias (`k8s.containers`) as a
    /// lookup of the whole package: every rule of it evaluated and assembled into an object,
    /// at each use. The policies name library rules by their full path (functions are fine
    /// through an alias), and this keeps them so.
    #[test]
    fn no_rule_is_looked_up_through_its_whole_package() {
        let builtins = Builtins::load_mode(|_| true, Mode::Vm).unwrap();
        let program = &builtins.vm.as_ref().unwrap().program;
        let listing =
            regorus::rvm::program::generate_assembly_listing(program, &Default::default());
        let mut rule = "";
        let mut offenders = std::collections::BTreeSet::new();
        for line in listing.lines() {
            if let Some(name) = line.strip_prefix("; ===== RULE: ") {
                rule = name.trim_end_matches(" =====");
            } else if line.contains("VirtualDataDocumentLookup") {
                offenders.insert(rule);
            }
        }
        assert!(
            offenders.is_empty(),
            "these rules look up a whole package (name library rules by full path, \
             `data.kubegate.lib.k8s.containers`): {offenders:?}"
        );
    }

    /// `policies/compiled.bin` is the program the default rules compile to, under the key of
    /// the current sources (`scripts/gen-rules.sh` writes it, through this test).
    #[test]
    fn the_embedded_program_is_the_default_rules_compiled() {
        let fresh = Builtins::load_from(|_| true, Mode::Vm, false).unwrap();
        let vm = fresh.vm.as_ref().unwrap();
        let bytes = cache::contents(&vm.source, &vm.program).unwrap();
        let again = Builtins::load_from(|_| true, Mode::Vm, false).unwrap();
        let again = again.vm.as_ref().unwrap();
        assert!(
            bytes == cache::contents(&again.source, &again.program).unwrap(),
            "compiling the rules twice gives two programs: the embedded one cannot be checked"
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/compiled.bin");
        if std::env::var_os("KUBEGATE_BLESS").is_some() {
            std::fs::write(path, &bytes).unwrap();
            return;
        }
        assert_eq!(
            cache::precompiled_key().as_deref(),
            Some(vm.source.as_str()),
            "{path} was compiled from other policies: run scripts/gen-rules.sh"
        );
        assert!(
            cache::precompiled(&vm.source).is_some() && std::fs::read(path).unwrap() == bytes,
            "{path} is not what the rules compile to: run scripts/gen-rules.sh"
        );
    }

    /// Each thread gets a copy of its own (the count of the shared `Arc` is not touched by
    /// every rule call), made once; another program is never taken for the one copied.
    #[test]
    fn each_thread_runs_its_own_copy_of_the_program() {
        let builtins = Builtins::load(|_| true).unwrap();
        let program = &builtins.vm.as_ref().unwrap().program;
        let mine = thread_copy(program);
        assert!(
            !Arc::ptr_eq(&mine, program),
            "a copy, not the shared program"
        );
        assert!(
            Arc::ptr_eq(&mine, &thread_copy(program)),
            "made once per thread"
        );
        let theirs = std::thread::scope(|s| s.spawn(|| thread_copy(program)).join().unwrap());
        assert!(!Arc::ptr_eq(&mine, &theirs), "another thread has its own");
        let other = Arc::new(Program::clone(program));
        let copied = thread_copy(&other);
        assert!(!Arc::ptr_eq(&copied, &mine) && !Arc::ptr_eq(&copied, &other));
        assert_eq!(copied.instructions.len(), program.instructions.len());
    }

    #[test]
    fn paths_become_pointers() {
        let v = regorus::Value::from_json_str(r#"["spec", "containers", 0, "a/b"]"#).unwrap();
        assert_eq!(path_to_pointer(&v), "/spec/containers/0/a~1b");
        let dotted = regorus::Value::from("spec.containers[1].image");
        assert_eq!(path_to_pointer(&dotted), "/spec/containers/1/image");
        let ptr = regorus::Value::from("/spec/x");
        assert_eq!(path_to_pointer(&ptr), "/spec/x");
    }
}
