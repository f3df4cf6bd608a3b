//! Provenance and error origins of generated objects; the objects themselves are compared
//! with the real kustomize in `tests/kustomize_generate.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::parse::{Limits, Reader, yaml};
use crate::render::node::FileId;

/// The kustomization is file 0; the files it names are 1, 2, ... in `files` order.
struct Fixture {
    text: String,
    root: Node,
    files: Vec<(&'static str, Vec<u8>)>,
}

impl Fixture {
    fn new(text: &str, files: &[(&'static str, &[u8])]) -> Self {
        let parsed = yaml::parse_as(text, &Limits::default(), Reader::Kubectl);
        assert!(parsed.issues.is_empty(), "{:?}", parsed.issues);
        let root = Node::from_document(&parsed.documents[0], "", text, 0).unwrap();
        Fixture {
            text: text.to_owned(),
            root,
            files: files.iter().map(|(p, b)| (*p, b.to_vec())).collect(),
        }
    }

    fn run(&self, kind: GeneratorKind, index: usize) -> Result<Generated, GenerateError> {
        let entry = self.root.path(&[kind.field()]).unwrap().as_seq().unwrap()[index].clone();
        let by_path: HashMap<PathBuf, (FileId, Arc<[u8]>)> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, (p, b))| (Path::new("/k").join(p), (i as FileId + 1, b.clone().into())))
            .collect();
        let mut read = |p: &Path| {
            by_path
                .get(p)
                .cloned()
                .ok_or_else(|| format!("no such file {}", p.display()))
        };
        generate(
            kind,
            &entry,
            self.root.get("generatorOptions"),
            Path::new("/k"),
            &mut read,
        )
    }

    /// The text an origin's value span covers, in the kustomization or a named file.
    fn text(&self, origin: Origin) -> String {
        self.slice(origin.file, origin.value)
    }

    fn key_text(&self, origin: Origin) -> String {
        self.slice(origin.file, origin.key.expect("a key span"))
    }

    fn slice(&self, file: FileId, span: Span) -> String {
        let bytes = match file {
            0 => self.text.as_bytes(),
            n => &self.files[n as usize - 1].1,
        };
        String::from_utf8_lossy(&bytes[span.start as usize..span.end as usize]).into_owned()
    }
}

#[test]
fn literal_values_point_at_their_text() {
    let f = Fixture::new(
        "configMapGenerator:\n- name: app\n  literals:\n  - LEVEL=debug\n  - Q='quoted'\n  \
         - \"ESC=a\\tb\"\n",
        &[],
    );
    let g = f.run(GeneratorKind::ConfigMap, 0).unwrap();
    let data = g.object.get("data").unwrap();
    let level = data.get("LEVEL").unwrap().origin;
    assert_eq!(f.key_text(level), "LEVEL");
    assert_eq!(f.text(level), "debug");
    let q = data.get("Q").unwrap().origin;
    assert_eq!(f.text(q), "quoted");
    // An escaped scalar is not its value verbatim: the whole item.
    let esc = data.get("ESC").unwrap().origin;
    assert_eq!(f.text(esc), "\"ESC=a\\tb\"");
    let name = g.object.path(&["metadata", "name"]).unwrap().origin;
    assert_eq!(f.text(name), "app");
    assert_eq!(f.key_text(name), "name");
    assert_eq!(
        g.object.origin.value.start as usize,
        f.text.find("name: app").unwrap()
    );
}

#[test]
fn file_and_env_values_point_into_the_files_read() {
    let f = Fixture::new(
        "configMapGenerator:\n- name: app\n  envs: [app.env]\n  files: [conf/app.ini, \
         bin=logo.png]\n",
        &[
            ("app.env", b"# c\nA=1\n  B=two=2\n"),
            ("conf/app.ini", b"[main]\nx = 1\n"),
            ("logo.png", b"\x89PNG\xff"),
        ],
    );
    let g = f.run(GeneratorKind::ConfigMap, 0).unwrap();
    let data = g.object.get("data").unwrap();
    let b = data.get("B").unwrap().origin;
    assert_eq!(b.file, 1);
    assert_eq!((f.key_text(b).as_str(), f.text(b).as_str()), ("B", "two=2"));
    let ini = data.get("app.ini").unwrap().origin;
    assert_eq!((ini.file, f.text(ini).as_str()), (2, "[main]"));
    let bin = g.object.path(&["binaryData", "bin"]).unwrap();
    assert_eq!(bin.as_str(), Some("iVBOR/8="));
    assert_eq!((bin.origin.file, bin.origin.value), (3, Span::new(0, 0)));
}

#[test]
fn options_give_labels_their_origin_and_local_entries_win() {
    let f = Fixture::new(
        "generatorOptions:\n  labels: {tier: web, env: prod}\n  immutable: true\n\
         configMapGenerator:\n- name: app\n  options:\n    labels: {env: dev}\n",
        &[],
    );
    let g = f.run(GeneratorKind::ConfigMap, 0).unwrap();
    let labels = g.object.path(&["metadata", "labels"]).unwrap();
    assert_eq!(labels.to_value(), json!({"env": "dev", "tier": "web"}));
    assert_eq!(f.text(labels.get("env").unwrap().origin), "dev");
    assert_eq!(f.text(labels.get("tier").unwrap().origin), "web");
    let immutable = g.object.get("immutable").unwrap();
    assert_eq!(f.key_text(immutable.origin), "immutable");
    assert!(g.hash);
    assert_eq!(g.behavior, Behavior::Create);
    // No data: no `data` at all for a ConfigMap, `data: {}` for a Secret.
    assert!(g.object.get("data").is_none());
}

#[test]
fn errors_point_at_the_field_at_fault() {
    let f = Fixture::new(
        "configMapGenerator:\n- name: a\n  files:\n  - here.txt\n  - absent.txt\n\
         - name: b\n  literals: [A=1, NOEQUALS]\n\
         - name: c\n  envs: [dup.env]\n\
         - name: d\n  files: [k=https://example.com/x]\n\
         - literals: [A=1]\n\
         - name: f\n  literal: [A=1]\n\
         - name: g\n  literals: [A=1, A=2]\n",
        &[("here.txt", b"x"), ("dup.env", b"X=1\n\nX=2\n")],
    );
    let err = |i| f.run(GeneratorKind::ConfigMap, i).unwrap_err();
    let e = err(0);
    assert_eq!(f.text(e.origin), "absent.txt");
    assert!(
        e.message.contains("no such file /k/absent.txt"),
        "{}",
        e.message
    );
    assert_eq!(f.text(err(1).origin), "NOEQUALS");
    let e = err(2);
    assert_eq!((e.origin.file, f.text(e.origin).as_str()), (2, "X"));
    assert_eq!(e.origin.value.start, 5);
    let e = err(3);
    assert!(e.message.contains("offline"), "{}", e.message);
    assert_eq!(f.text(e.origin), "k=https://example.com/x");
    assert!(f.text(err(4).origin).starts_with("literals"));
    let e = err(5);
    assert_eq!(f.text(e.origin), "literal");
    assert!(
        e.message.contains("unknown field `literal`"),
        "{}",
        e.message
    );
    assert_eq!(f.text(err(6).origin), "A=2");
}

#[test]
fn control_characters_in_arguments_are_refused_where_they_are() {
    let f = Fixture::new(
        "configMapGenerator:\n- name: a\n  literals: [\"A=\\x7f\"]\n\
         - name: b\n  literals: [\"A=\\x85\\x01\"]\n\
         - name: c\n  options: {annotations: {\"k\\x90\": v}}\n",
        &[],
    );
    let e = f.run(GeneratorKind::ConfigMap, 0).unwrap_err();
    assert_eq!(f.text(e.origin), "\"A=\\x7f\"");
    assert!(e.message.contains("U+007F"), "{}", e.message);
    f.run(GeneratorKind::ConfigMap, 1).unwrap();
    let e = f.run(GeneratorKind::ConfigMap, 2).unwrap_err();
    assert_eq!(f.text(e.origin), "\"k\\x90\"");
}

#[test]
fn paths_are_joined_and_cleaned_as_go_does() {
    assert_eq!(clean(Path::new("/k/./a/../b.txt")), Path::new("/k/b.txt"));
    assert_eq!(clean(Path::new("/k/../../x")), Path::new("/x"));
    assert_eq!(clean(Path::new("k/../../x")), Path::new("../x"));
    assert_eq!(clean(Path::new("./")), Path::new("."));
}

#[cfg(unix)]
#[test]
fn special_files_named_by_a_generator_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.txt")).unwrap();
    let fifo = dir.path().join("fifo.env");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let f = Fixture::new(
        "configMapGenerator:\n- name: z\n  files: [zero.txt]\n- name: p\n  envs: [fifo.env]\n",
        &[],
    );
    let mut read = |p: &Path| {
        crate::read::read(p, 1 << 20)
            .map(|b| (1, Arc::from(b)))
            .map_err(|e| e.to_string())
    };
    for (i, want) in [(0, "a character device"), (1, "a FIFO")] {
        let entry = &f.root.get("configMapGenerator").unwrap().as_seq().unwrap()[i];
        let e = generate(GeneratorKind::ConfigMap, entry, None, dir.path(), &mut read).unwrap_err();
        assert!(e.message.contains(want), "{}", e.message);
    }
}

#[test]
fn secrets_are_base64_with_a_type() {
    let f = Fixture::new(
        "secretGenerator:\n- name: s\n  literals: [user=admin]\n- name: t\n  type: \
         kubernetes.io/tls\n  options: {disableNameSuffixHash: true}\n",
        &[],
    );
    let g = f.run(GeneratorKind::Secret, 0).unwrap();
    assert_eq!(
        g.object.to_value(),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
               "type": "Opaque", "data": {"user": "YWRtaW4="}})
    );
    let g = f.run(GeneratorKind::Secret, 1).unwrap();
    assert!(!g.hash);
    assert_eq!(
        f.text(g.object.get("type").unwrap().origin),
        "kubernetes.io/tls"
    );
    assert_eq!(g.object.get("data").unwrap().to_value(), json!({}));
}

#[test]
fn merge_keeps_the_base_origins_it_keeps() {
    let f = Fixture::new(
        "configMapGenerator:\n- name: app\n  namespace: ns\n  literals: [A=base, B=base]\n  \
         options: {labels: {keep: base, owner: base}}\n\
         - name: app\n  behavior: merge\n  literals: [B=over]\n  options: {labels: {owner: \
         over}}\n- name: app\n  behavior: replace\n  literals: [C=over]\n",
        &[],
    );
    let base = f.run(GeneratorKind::ConfigMap, 0).unwrap().object;
    let over = f.run(GeneratorKind::ConfigMap, 1).unwrap();
    assert_eq!(over.behavior, Behavior::Merge);
    let mut merged = base.clone();
    merge_generated(&mut merged, &over.object, over.behavior).unwrap();
    assert_eq!(
        merged.to_value(),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "app", "namespace": "ns",
                            "labels": {"keep": "base", "owner": "over"}},
               "data": {"A": "base", "B": "over"}})
    );
    assert_eq!(merged.origin, base.origin);
    assert_eq!(f.text(merged.path(&["data", "A"]).unwrap().origin), "base");
    assert_eq!(
        merged.path(&["data", "B"]).unwrap().origin,
        over.object.path(&["data", "B"]).unwrap().origin
    );
    assert_eq!(
        merged.path(&["metadata", "namespace"]).unwrap().origin,
        base.path(&["metadata", "namespace"]).unwrap().origin
    );

    let replace = f.run(GeneratorKind::ConfigMap, 2).unwrap();
    let mut replaced = base.clone();
    merge_generated(&mut replaced, &replace.object, replace.behavior).unwrap();
    assert_eq!(
        replaced.get("data").unwrap().to_value(),
        json!({"C": "over"})
    );
    assert_eq!(replaced.origin, replace.object.origin);
    assert_eq!(
        replaced.path(&["metadata", "labels"]).unwrap().to_value(),
        json!({"keep": "base", "owner": "base"})
    );

    let e = merge_generated(&mut base.clone(), &base, Behavior::Create).unwrap_err();
    assert!(e.message.contains("already exists"), "{}", e.message);
}

#[test]
fn merge_keeps_kustomize_annotations_from_the_base_only() {
    let origin = Origin::new(0, Span::default());
    let base = Node::from_value(
        &json!({"kind": "ConfigMap", "metadata": {"name": "a", "annotations": {
            "config.kubernetes.io/index": "0", "x": "base"}}, "data": {"n": 1}}),
        origin,
    );
    let over = Node::from_value(
        &json!({"kind": "ConfigMap", "metadata": {"name": "a", "annotations": {
            "config.kubernetes.io/index": "9", "config.k8s.io/id": "1", "x": "over"}}}),
        origin,
    );
    let mut merged = base;
    merge_generated(&mut merged, &over, Behavior::Merge).unwrap();
    assert_eq!(
        merged.to_value(),
        json!({"kind": "ConfigMap", "metadata": {"name": "a", "annotations": {
            "config.kubernetes.io/index": "0", "x": "over"}}, "data": {"n": "1"}})
    );
}
