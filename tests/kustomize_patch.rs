//! kubegate's patch engine against kustomize v5.7.1: every case of `tests/kustomize/patch`
//! is a kustomization with resources and `patches:` entries, and `expected.yaml` (or
//! `expected.error`) is what `kubectl kustomize` (kubectl 1.35.2) printed for it, recorded
//! from the real binary, never written by hand.
//!
//! The driver here is the part of a kustomize build these cases need: read the resources
//! with the kyaml reader, apply each `patches:` entry in order through
//! `kubegate::render::patch` (strategic merge or JSON 6902, with or without `target:`), then
//! compare the objects' JSON values, list orders included, with `expected.yaml` read back with
//! the same reader. Objects are matched by kind, namespace and name (kustomize also sorts
//! them, which is not the patch engine's business). For an error case the driver must fail.

use std::path::{Path, PathBuf};

use kubegate::parse::{Limits, Reader, yaml};
use kubegate::render::node::{FileId, Kind, Node, Span};
use kubegate::render::patch::{self, Merged, Selector, SmpOptions};
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize/patch")
}

/// The documents of a YAML text as nodes of file `file`.
fn read(text: &str, reader: Reader, file: FileId) -> Result<Vec<Node>, String> {
    let parsed = yaml::parse_as(text, &Limits::default(), reader);
    if let Some(issue) = parsed.issues.first() {
        return Err(format!("cannot read: {}", issue.message));
    }
    Ok(parsed
        .documents
        .iter()
        .filter(|d| !d.value.is_null())
        .filter_map(|d| Node::from_document(d, "", text, file))
        .collect())
}

fn text<'a>(n: &'a Node, path: &[&str]) -> &'a str {
    n.path(path).and_then(Node::as_str).unwrap_or("")
}

/// A build of the case: the resulting objects, or the first error.
fn build(dir: &Path) -> Result<Vec<Node>, String> {
    let mut next_file: FileId = 0;
    let mut file = || {
        next_file += 1;
        next_file
    };
    let kust_text = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    let kust = read(&kust_text, Reader::Kyaml, file())?
        .into_iter()
        .next()
        .ok_or("empty kustomization")?;
    let mut objects: Vec<Node> = Vec::new();
    for r in kust.get("resources").and_then(Node::as_seq).unwrap_or(&[]) {
        let path = r.as_str().ok_or("resource is not a string")?;
        let t = std::fs::read_to_string(dir.join(path)).map_err(|e| e.to_string())?;
        objects.extend(read(&t, Reader::Kyaml, file())?);
    }
    for entry in kust.get("patches").and_then(Node::as_seq).unwrap_or(&[]) {
        let raw = match (entry.get("patch"), entry.get("path")) {
            (Some(p), None) => p.as_str().ok_or("patch is not a string")?.trim().to_owned(),
            (None, Some(p)) => {
                std::fs::read_to_string(dir.join(p.as_str().unwrap())).map_err(|e| e.to_string())?
            }
            _ => return Err("must specify one of patch and path".into()),
        };
        let target = entry.get("target").map(Selector::from_node).transpose();
        let target = target.map_err(|e| e.message)?;
        let option = |k: &str| {
            entry
                .path(&["options", k])
                .is_some_and(|v| matches!(v.kind, Kind::Bool(true)))
        };
        let patch_file = file();
        let docs = read(&raw, Reader::Kyaml, patch_file)?;
        let is_json = raw.starts_with('[') || docs.first().is_some_and(|d| d.as_seq().is_some());
        if is_json {
            // sigs.k8s.io/yaml (YAML 1.1) for the YAML form, plain JSON otherwise.
            let ops = read(&raw, Reader::Kubectl, patch_file)?
                .into_iter()
                .next()
                .ok_or("empty json patch operations")?;
            let target = target.ok_or("must specify a target for JSON patch")?;
            for object in objects.iter_mut() {
                if target.matches(object, &[], &[]) {
                    patch::json6902(object, &ops).map_err(|e| e.message)?;
                    if text(object, &["metadata", "name"]).is_empty() {
                        return Err("missing metadata.name in object".into());
                    }
                }
            }
            continue;
        }
        // kustomize reads a strategic merge patch as resources: each needs a kind and a
        // name (`GetValidatedMetadata`), else the text is neither kind of patch.
        for doc in &docs {
            if text(doc, &["kind"]).is_empty() || text(doc, &["metadata", "name"]).is_empty() {
                return Err("unable to parse SM or JSON patch".into());
            }
        }
        match target {
            Some(target) => {
                if docs.len() > 1 {
                    return Err(
                        "Multiple Strategic-Merge Patches in one `patches` entry is \
                                not allowed to set `patches.target` field"
                            .into(),
                    );
                }
                let options = SmpOptions {
                    targeted: true,
                    allow_name_change: option("allowNameChange"),
                    allow_kind_change: option("allowKindChange"),
                };
                let mut kept = Vec::new();
                for mut object in objects.drain(..) {
                    if target.matches(&object, &[], &[])
                        && patch::strategic_merge_with(&mut object, &docs[0], options)
                            .map_err(|e| e.message)?
                            == Merged::Deleted
                    {
                        continue;
                    }
                    kept.push(object);
                }
                objects = kept;
            }
            None => {
                for doc in &docs {
                    let id = |n: &Node| {
                        let ns = text(n, &["metadata", "namespace"]);
                        (
                            text(n, &["apiVersion"]).to_owned(),
                            text(n, &["kind"]).to_owned(),
                            text(n, &["metadata", "name"]).to_owned(),
                            if ns.is_empty() { "default" } else { ns }.to_owned(),
                        )
                    };
                    let want = id(doc);
                    let i = objects.iter().position(|o| id(o) == want).ok_or_else(|| {
                        format!("no resource matches strategic merge patch {want:?}")
                    })?;
                    let options = SmpOptions {
                        targeted: false,
                        allow_name_change: option("allowNameChange"),
                        allow_kind_change: option("allowKindChange"),
                    };
                    if patch::strategic_merge_with(&mut objects[i], doc, options)
                        .map_err(|e| e.message)?
                        == Merged::Deleted
                    {
                        objects.remove(i);
                    }
                }
            }
        }
    }
    // The end of every build: kustomize removes its internal annotations, which leaves
    // annotations as string maps and drops empty ones.
    for object in objects.iter_mut() {
        patch::string_annotations(object);
    }
    Ok(objects)
}

fn sort_key(v: &Value) -> (String, String, String) {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
}

fn check(dir: &Path) -> Result<(), String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let built = build(dir);
    let error = dir.join("expected.error");
    if error.exists() {
        let expected = std::fs::read_to_string(&error).unwrap();
        return match built {
            Err(_) => Ok(()),
            Ok(objects) => Err(format!(
                "{name}: kustomize fails with {:?}, kubegate built {} objects",
                expected.trim(),
                objects.len()
            )),
        };
    }
    let objects = built.map_err(|e| format!("{name}: kubegate fails: {e}"))?;
    let expected_text = std::fs::read_to_string(dir.join("expected.yaml"))
        .map_err(|e| format!("{name}: no expected.yaml or expected.error: {e}"))?;
    let mut expected: Vec<Value> = read(&expected_text, Reader::Kyaml, 0)
        .unwrap()
        .iter()
        .map(Node::to_value)
        .collect();
    let mut got: Vec<Value> = objects.iter().map(Node::to_value).collect();
    expected.sort_by_key(sort_key);
    got.sort_by_key(sort_key);
    if expected != got {
        return Err(format!(
            "{name}: objects differ\n--- kustomize\n{}\n--- kubegate\n{}",
            serde_json::to_string_pretty(&expected).unwrap(),
            serde_json::to_string_pretty(&got).unwrap()
        ));
    }
    Ok(())
}

#[test]
fn patches_match_kustomize() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 40, "only {} cases", dirs.len());
    let failures: Vec<String> = dirs.iter().filter_map(|d| check(d).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from kustomize:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

/// Every case directory is complete: a kustomization and exactly one recorded outcome.
#[test]
fn every_case_is_recorded() {
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name}: case names are kebab-case"
        );
        assert!(dir.join("kustomization.yaml").exists(), "{name}");
        let outcomes =
            dir.join("expected.yaml").exists() as u8 + dir.join("expected.error").exists() as u8;
        assert_eq!(outcomes, 1, "{name}: one of expected.yaml, expected.error");
    }
}

/// A patch's values keep the patch's file; the target's untouched values keep theirs.
#[test]
fn merged_values_keep_their_files() {
    let target_text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  paused: false\n";
    let patch_text =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n";
    let mut target = read(target_text, Reader::Kyaml, 1).unwrap().remove(0);
    let patch = read(patch_text, Reader::Kyaml, 2).unwrap().remove(0);
    patch::strategic_merge(&mut target, &patch).unwrap();
    let replicas = target.pointer("/spec/replicas").unwrap();
    assert_eq!(replicas.origin.file, 2);
    let span: Span = replicas.origin.value;
    assert_eq!(&patch_text[span.start as usize..span.end as usize], "3");
    assert_eq!(target.pointer("/spec/paused").unwrap().origin.file, 1);
    assert_eq!(target.pointer("/spec").unwrap().origin.file, 1);
    assert_eq!(target.pointer("/metadata/name").unwrap().origin.file, 1);
}
