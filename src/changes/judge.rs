//! Judging the change itself: what the merge request does to each object it creates,
//! updates or deletes, compared base against head, by the built-in change rules
//! (`scope: change`) and the user's change policies (`deny_change`, `warn_change`).
//!
//! Each object's change is one admission review ([`super::review`]): `input.review`, plus
//! `input.counterpart` when the merge request put another object in the deleted one's
//! place (a rename, a move to another namespace, a change of kind). Where a finding lands
//! is the caller's business ([`Locate`]): the changed field at head, or for a deletion the
//! change that removed the object.

use std::collections::HashMap;

use rayon::prelude::*;
use serde_json::{Value, json};

use super::{Operation, SourceObject, Transition, group_of, review};
use crate::finding::{Finding, Severity};
use crate::policy::Builtins;
use crate::policy::user::{Kind, UserPolicies};

/// Where findings about a change go.
pub trait Locate {
    /// A finding at `pointer` of the head object `o` (the nearest existing parent of a
    /// missing field).
    fn head(&mut self, o: &SourceObject, pointer: &str) -> Finding;
    /// A finding at the change that removed the base object `o`: its file's deletion, the
    /// place in its file where its document was removed, or the kustomization entry that
    /// no longer renders it.
    fn removal(&mut self, o: &SourceObject) -> Finding;
}

/// What the change rules found, and how many findings inline suppressions silenced.
#[derive(Debug, Default)]
pub struct Judged {
    pub findings: Vec<Finding>,
    pub suppressed: usize,
}

/// How a deleted object and a created one relate, when the merge request replaced one with
/// the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// Same file, API group, kind and namespace; another name.
    Renamed,
    /// Same API group, kind and name; another namespace.
    Moved,
    /// Same file, name and namespace; another kind or API group.
    Kind,
}

impl How {
    fn as_str(self) -> &'static str {
        match self {
            How::Renamed => "renamed",
            How::Moved => "moved",
            How::Kind => "kind",
        }
    }
}

/// For each transition, the object that took a deleted one's place (on the `DELETE`), or
/// whose place a created one took (on the `CREATE`): pairs a deletion with at most one
/// creation, moves first, then kind changes, then renames, each in transition order.
fn counterparts(
    base: &[SourceObject],
    head: &[SourceObject],
    transitions: &[Transition],
) -> Vec<Option<(How, usize)>> {
    let mut out = vec![None; transitions.len()];
    let deleted: Vec<usize> = (0..transitions.len())
        .filter(|&t| transitions[t].operation == Operation::Delete)
        .collect();
    let created: Vec<usize> = (0..transitions.len())
        .filter(|&t| transitions[t].operation == Operation::Create)
        .collect();
    if deleted.is_empty() || created.is_empty() {
        return out;
    }
    let b = |t: usize| transitions[t].base.and_then(|i| base.get(i));
    let h = |t: usize| transitions[t].head.and_then(|i| head.get(i));
    let matches = |how: How, old: &SourceObject, new: &SourceObject| {
        let (o, n) = (&old.object, &new.object);
        let same_type = group_of(&o.api_version) == group_of(&n.api_version) && o.kind == n.kind;
        let named = o.name.is_some() && n.name.is_some();
        match how {
            How::Moved => same_type && named && o.name == n.name && o.namespace != n.namespace,
            How::Kind => {
                !same_type
                    && named
                    && old.file == new.file
                    && o.name == n.name
                    && o.namespace == n.namespace
            }
            How::Renamed => {
                same_type
                    && named
                    && old.file == new.file
                    && o.namespace == n.namespace
                    && o.name != n.name
            }
        }
    };
    let mut taken = vec![false; transitions.len()];
    for how in [How::Moved, How::Kind, How::Renamed] {
        for &d in &deleted {
            if out[d].is_some() {
                continue;
            }
            let Some(old) = b(d) else { continue };
            let found = created
                .iter()
                .copied()
                .find(|&c| !taken[c] && h(c).is_some_and(|new| matches(how, old, new)));
            if let Some(c) = found {
                taken[c] = true;
                out[d] = Some((how, c));
                out[c] = Some((how, d));
            }
        }
    }
    out
}

/// `input.counterpart` for a rule: the other object's type and identity, and how the two
/// relate.
fn counterpart_value(how: How, o: &SourceObject) -> Value {
    json!({
        "how": how.as_str(),
        "apiVersion": o.object.api_version,
        "kind": o.object.kind,
        "name": o.object.name,
        "namespace": o.object.namespace,
    })
}

/// Which rule a result came from.
enum Source {
    Builtin(usize),
    User(usize),
    Error(String),
}

struct Result1 {
    transition: usize,
    source: Source,
    message: String,
    pointer: String,
}

/// The rules that judge a change.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    /// The built-in rules (their change-scope ones run).
    pub builtins: Option<&'a Builtins>,
    /// The user's policies (their change rules run).
    pub user: Option<&'a UserPolicies>,
    /// Honour `kubegate.io/ignore` annotations.
    pub inline_suppressions: bool,
}

/// Evaluates the change rules on every transition, in parallel, and places the findings.
/// Inline suppressions (`kubegate.io/ignore`) are read from the head object, or for a
/// deletion from the base object: a deletion is allowed by an annotation the base, which
/// the merge request cannot rewrite, already had.
pub fn judge(
    base: &[SourceObject],
    head: &[SourceObject],
    transitions: &[Transition],
    rules: Rules<'_>,
    pool: &rayon::ThreadPool,
    locate: &mut dyn Locate,
) -> Judged {
    let Rules {
        builtins,
        user,
        inline_suppressions,
    } = rules;
    let mut judged = Judged::default();
    let user = user.filter(|u| u.has_change_rules());
    let builtins = builtins.filter(|b| b.judges_changes());
    if builtins.is_none() && user.is_none() {
        return judged;
    }
    let partners = counterparts(base, head, transitions);
    let evaluate = || -> Vec<Result1> {
        transitions
            .par_iter()
            .enumerate()
            .map_init(
                || (user.cloned(), builtins.and_then(Builtins::change_evaluator)),
                |(local, evaluator), (ti, t)| {
                    let mut out = Vec::new();
                    let mut input = serde_json::Map::new();
                    input.insert("review".into(), review(t, base, head));
                    if let Some((how, other)) = partners[ti] {
                        let o = match t.operation {
                            Operation::Delete => transitions[other].head.map(|i| &head[i]),
                            _ => transitions[other].base.map(|i| &base[i]),
                        };
                        if let Some(o) = o {
                            input.insert("counterpart".into(), counterpart_value(how, o));
                        }
                    }
                    let input = Value::Object(input);
                    let this = t
                        .head
                        .map(|i| &head[i])
                        .or_else(|| t.base.map(|i| &base[i]));
                    let Some(this) = this else {
                        return out;
                    };
                    let kind = this.object.kind.as_str();
                    if let Some(e) = evaluator.as_mut() {
                        match e.evaluate(kind, &input) {
                            Ok(vs) => out.extend(vs.into_iter().map(|v| Result1 {
                                transition: ti,
                                source: Source::Builtin(v.rule),
                                message: v.message,
                                pointer: v.pointer,
                            })),
                            Err(e) => out.push(Result1 {
                                transition: ti,
                                source: Source::Error(format!(
                                    "a built-in change rule failed on this object: {e:#}"
                                )),
                                message: String::new(),
                                pointer: String::new(),
                            }),
                        }
                    }
                    if let Some(u) = local.as_mut() {
                        u.set_file(&this.file);
                        match u.evaluate_change(&input) {
                            Ok((outcomes, _)) => {
                                out.extend(outcomes.into_iter().map(|o| Result1 {
                                    transition: ti,
                                    source: Source::User(o.query),
                                    message: o.message,
                                    pointer: o.pointer.unwrap_or_default(),
                                }))
                            }
                            Err(e) => out.push(Result1 {
                                transition: ti,
                                source: Source::Error(format!(
                                    "a change policy failed on this object: {e:#}"
                                )),
                                message: String::new(),
                                pointer: String::new(),
                            }),
                        }
                    }
                    out
                },
            )
            .flatten()
            .collect()
    };
    let results = pool.install(evaluate);

    // Suppressions per transition, read once.
    let mut suppressions: HashMap<usize, Vec<crate::suppress::Inline>> = HashMap::new();
    for r in results {
        let t = &transitions[r.transition];
        let (rule, name, severity, message) = match &r.source {
            Source::Builtin(i) => {
                let Some(meta) = builtins.and_then(|b| b.rules.get(*i)) else {
                    continue;
                };
                (
                    meta.id.clone(),
                    Some(meta.name.clone()),
                    meta.severity,
                    r.message,
                )
            }
            Source::User(q) => {
                let Some(query) = user.and_then(|u| u.queries.get(*q)) else {
                    continue;
                };
                let severity = match query.kind() {
                    Kind::Deny => Severity::Error,
                    Kind::Warn => Severity::Warning,
                };
                (query.id(), None, severity, r.message)
            }
            Source::Error(e) => ("policy-error".to_owned(), None, Severity::Error, e.clone()),
        };
        let (object, deleted) = match (t.head, t.base) {
            (Some(h), _) => (&head[h], false),
            (None, Some(b)) => (&base[b], true),
            (None, None) => continue,
        };
        if inline_suppressions && !matches!(r.source, Source::Error(_)) {
            let list = suppressions
                .entry(r.transition)
                .or_insert_with(|| crate::suppress::inline(&object.value));
            if list.iter().any(|s| {
                s.rules
                    .iter()
                    .any(|spec| crate::suppress::designates(spec, &rule, name.as_deref()))
            }) {
                judged.suppressed += 1;
                continue;
            }
        }
        let mut f = if deleted {
            let mut f = locate.removal(object);
            f.message = match &object.origin {
                Some((file, line)) => format!("{message} (at the base: {file}:{line})"),
                None => message,
            };
            f
        } else {
            let mut f = locate.head(object, &r.pointer);
            f.message = message;
            f
        };
        f.rule = rule.into();
        f.severity = severity;
        f.object = Some(object.object.clone());
        judged.findings.push(f);
    }
    judged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::{objects_of, transitions};

    #[test]
    fn a_deletion_pairs_with_the_creation_that_took_its_place() {
        let base = [objects_of(
            "a.yaml",
            "kind: PersistentVolumeClaim\napiVersion: v1\nmetadata: {name: data}\n---\n\
                 kind: ConfigMap\napiVersion: v1\nmetadata: {name: c, namespace: x}\n---\n\
                 kind: Deployment\napiVersion: apps/v1\nmetadata: {name: w}\n",
        )]
        .concat();
        let head = [objects_of(
            "a.yaml",
            "kind: PersistentVolumeClaim\napiVersion: v1\nmetadata: {name: data-v2}\n---\n\
                 kind: ConfigMap\napiVersion: v1\nmetadata: {name: c, namespace: two}\n---\n\
                 kind: StatefulSet\napiVersion: apps/v1\nmetadata: {name: w}\n",
        )]
        .concat();
        let ts = transitions(&base, &head, &[]);
        let partners = counterparts(&base, &head, &ts);
        let mut seen: Vec<(String, &str, String)> = Vec::new();
        for (ti, p) in partners.iter().enumerate() {
            let Some((how, other)) = p else { continue };
            if ts[ti].operation != Operation::Delete {
                continue;
            }
            let old = &base[ts[ti].base.unwrap()];
            let new = &head[ts[*other].head.unwrap()];
            seen.push((old.object.to_string(), how.as_str(), new.object.to_string()));
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("ConfigMap x/c".into(), "moved", "ConfigMap two/c".into()),
                ("Deployment w".into(), "kind", "StatefulSet w".into()),
                (
                    "PersistentVolumeClaim data".into(),
                    "renamed",
                    "PersistentVolumeClaim data-v2".into()
                ),
            ]
        );
    }
}
