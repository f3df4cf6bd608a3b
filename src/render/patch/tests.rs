//! Provenance and error placement of the patch engine. The behaviour itself is checked
//! against kustomize in `tests/kustomize_patch.rs`.

use super::*;
use crate::parse::{Limits, Reader, yaml};
use crate::render::node::{FileId, Node};

const TARGET: FileId = 1;
const PATCH: FileId = 2;

fn read(text: &str, reader: Reader, file: FileId) -> Node {
    let parsed = yaml::parse_as(text, &Limits::default(), reader);
    assert!(parsed.issues.is_empty(), "{:?}", parsed.issues);
    Node::from_document(&parsed.documents[0], "", text, file).unwrap()
}

/// The text a node's value span covers.
fn at(text: &str, origin: Origin) -> &str {
    &text[origin.value.start as usize..origin.value.end as usize]
}

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: a
        image: a:1
        args: [x]
      - name: b
        image: b:1
";

#[test]
fn merged_nodes_carry_the_patch_origin_and_the_rest_keep_theirs() {
    let patch_text = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: b
        image: b:2
        args: [y]
      - name: z
        image: z:1
";
    let mut target = read(DEPLOYMENT, Reader::Kyaml, TARGET);
    let patch = read(patch_text, Reader::Kyaml, PATCH);
    assert_eq!(strategic_merge(&mut target, &patch), Ok(Merged::Kept));

    let replicas = target.pointer("/spec/replicas").unwrap();
    assert_eq!(replicas.origin.file, PATCH);
    assert_eq!(at(patch_text, replicas.origin), "3");
    let key = replicas.origin.key.unwrap();
    assert_eq!(
        &patch_text[key.start as usize..key.end as usize],
        "replicas"
    );

    // Patch elements first: b (merged), z (new), then a (untouched).
    let names: Vec<&str> = target
        .pointer("/spec/template/spec/containers")
        .unwrap()
        .as_seq()
        .unwrap()
        .iter()
        .map(|c| c.get("name").unwrap().as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "z", "a"]);

    // The merged element stays the target's; what the patch set is the patch's.
    let b = target.pointer("/spec/template/spec/containers/0").unwrap();
    assert_eq!(b.origin.file, TARGET);
    let image = b.get("image").unwrap();
    assert_eq!(
        (image.origin.file, at(patch_text, image.origin)),
        (PATCH, "b:2")
    );
    // A list kyaml replaces is the patch's, elements and all.
    let args = b.get("args").unwrap();
    assert_eq!(args.origin.file, PATCH);
    assert_eq!(args.as_seq().unwrap()[0].origin.file, PATCH);
    // A new element is the patch's throughout.
    let z = target.pointer("/spec/template/spec/containers/1").unwrap();
    assert!(z.get("image").unwrap().origin.file == PATCH && z.origin.file == PATCH);
    // Untouched nodes keep their origin.
    let a = target.pointer("/spec/template/spec/containers/2").unwrap();
    assert_eq!(a.origin.file, TARGET);
    let a_image = a.get("image").unwrap();
    assert_eq!(
        (a_image.origin.file, at(DEPLOYMENT, a_image.origin)),
        (TARGET, "a:1")
    );
    // The kind and name stay the target's, even though the patch repeats them.
    assert_eq!(target.get("kind").unwrap().origin.file, TARGET);
    assert_eq!(
        target.pointer("/metadata/name").unwrap().origin.file,
        TARGET
    );
}

#[test]
fn a_patch_deletes_the_object_or_parts_of_it() {
    let mut target = read(DEPLOYMENT, Reader::Kyaml, TARGET);
    let patch = read(
        "$patch: delete\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
        Reader::Kyaml,
        PATCH,
    );
    assert_eq!(strategic_merge(&mut target, &patch), Ok(Merged::Deleted));

    let mut target = read(DEPLOYMENT, Reader::Kyaml, TARGET);
    let patch = read(
        "kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: null\n  template:\n    \
         spec:\n      containers:\n      - name: a\n        $patch: delete\n",
        Reader::Kyaml,
        PATCH,
    );
    assert_eq!(strategic_merge(&mut target, &patch), Ok(Merged::Kept));
    assert!(target.pointer("/spec/replicas").is_none());
    let containers = target.pointer("/spec/template/spec/containers").unwrap();
    assert_eq!(containers.as_seq().unwrap().len(), 1);
    // The list itself is still the target's.
    assert_eq!(containers.origin.file, TARGET);
}

#[test]
fn errors_point_at_the_patch_node_that_failed() {
    let patch_text =
        "kind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    $patch: remove\n";
    let mut target = read(DEPLOYMENT, Reader::Kyaml, TARGET);
    let before = target.clone();
    let patch = read(patch_text, Reader::Kyaml, PATCH);
    let e = strategic_merge(&mut target, &patch).unwrap_err();
    assert_eq!(e.message, "unknown patch strategy 'remove'");
    assert_eq!(target, before, "a failed merge leaves the target");
    assert_eq!((e.origin.file, at(patch_text, e.origin)), (PATCH, "remove"));

    let patch_text = "kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas:\n    count: 2\n";
    let patch = read(patch_text, Reader::Kyaml, PATCH);
    let e = strategic_merge(&mut target, &patch).unwrap_err();
    assert!(
        e.message
            .starts_with("wrong node kind: expected ScalarNode but got MappingNode")
    );
    assert_eq!(e.origin.file, PATCH);
    assert!(at(patch_text, e.origin).starts_with("count"));
}

#[test]
fn json_patch_values_carry_the_operation_origin() {
    let ops_text = "\
- op: replace
  path: /spec/replicas
  value: 4
- op: add
  path: /spec/template/spec/containers/-
  value:
    name: c
    image: c:1
- op: move
  from: /spec/template/spec/containers/0
  path: /spec/template/spec/containers/-
";
    let mut target = read(DEPLOYMENT, Reader::Kyaml, TARGET);
    let ops = read(ops_text, Reader::Kubectl, PATCH);
    json6902(&mut target, &ops).unwrap();
    let replicas = target.pointer("/spec/replicas").unwrap();
    assert_eq!(
        (replicas.origin.file, at(ops_text, replicas.origin)),
        (PATCH, "4")
    );
    let containers = target.pointer("/spec/template/spec/containers").unwrap();
    let c = &containers.as_seq().unwrap()[1];
    assert_eq!(c.get("image").unwrap().origin.file, PATCH);
    // `move` keeps the moved node's own origin.
    let moved = &containers.as_seq().unwrap()[2];
    assert_eq!(moved.get("name").unwrap().as_str(), Some("a"));
    assert_eq!(moved.origin.file, TARGET);
}

#[test]
fn json_patch_errors_point_at_the_operation_and_leave_the_target() {
    let ops_text = "\
- op: replace
  path: /spec/replicas
  value: 4
- op: remove
  path: /spec/notexist
";
    let mut target = read(DEPLOYMENT, Reader::Kyaml, TARGET);
    let before = target.clone();
    let ops = read(ops_text, Reader::Kubectl, PATCH);
    let e = json6902(&mut target, &ops).unwrap_err();
    assert_eq!(
        e.message,
        "error in remove for path: '/spec/notexist': Unable to remove nonexistent key: \
         notexist: missing value"
    );
    assert_eq!(at(ops_text, e.origin), "/spec/notexist");
    assert_eq!(target, before);
}

#[test]
fn json_patch_index_rules() {
    let mut doc = read("a: [1, 2, 3]\n", Reader::Kyaml, TARGET);
    let ops = read(
        "[{\"op\":\"add\",\"path\":\"/a/-2\",\"value\":9},\
         {\"op\":\"add\",\"path\":\"/a/4\",\"value\":5},\
         {\"op\":\"remove\",\"path\":\"/a/-1\"}]",
        Reader::Kubectl,
        PATCH,
    );
    json6902(&mut doc, &ops).unwrap();
    assert_eq!(doc.to_value(), serde_json::json!({"a": [1, 2, 9, 3]}));
    for (op, message) in [
        (
            r#"[{"op":"add","path":"/a/9","value":0}]"#,
            "error in add for path: '/a/9': Unable to access invalid index: 9: invalid index \
             referenced",
        ),
        (
            r#"[{"op":"add","path":"/a/x","value":0}]"#,
            "error in add for path: '/a/x': value was not a proper array index: 'x': \
             strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            r#"[{"op":"replace","path":"/a/9","value":0}]"#,
            "replace operation does not apply: doc is missing key: /a/9: missing value",
        ),
        (r#"[{"path":"/a"}]"#, "Unexpected kind: unknown"),
        (
            r#"[{"op":"test","path":"/a/0","value":7}]"#,
            "testing value /a/0 failed: test failed",
        ),
    ] {
        let ops = read(op, Reader::Kubectl, PATCH);
        assert_eq!(json6902(&mut doc, &ops).unwrap_err().message, message);
    }
}

#[test]
fn selectors_match_previous_names_and_effective_namespaces() {
    let s = |text: &str| Selector::from_node(&read(text, Reader::Kyaml, PATCH)).unwrap();
    let cm = read(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-cm\n  labels: {app: web}\n",
        Reader::Kyaml,
        TARGET,
    );
    let role = read(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n",
        Reader::Kyaml,
        TARGET,
    );
    // Anchored: `cm` is not `p-cm`, but the name before the prefix was.
    assert!(!s("name: cm").matches(&cm, &[], &[]));
    assert!(s("name: cm").matches(&cm, &["cm", "p-cm"], &[]));
    assert!(s("name: p-.*").matches(&cm, &[], &[]));
    // No namespace is `default` for a namespaced kind, none at all for a cluster-scoped one.
    assert!(s("namespace: default").matches(&cm, &[], &[]));
    assert!(!s("namespace: default").matches(&role, &[], &[]));
    assert!(s("namespace: team").matches(&cm, &[], &["", "team"]));
    assert!(s("group: rbac.*\nversion: v1\nkind: ClusterRole").matches(&role, &[], &[]));
    assert!(s("labelSelector: app in (web, api)").matches(&cm, &[], &[]));
    assert!(!s("labelSelector: '!app'").matches(&cm, &[], &[]));
    for bad in [
        "name: 'web('",
        "bogus: x",
        "labelSelector: 'app in web'",
        "kind: [a]",
    ] {
        let node = read(bad, Reader::Kyaml, PATCH);
        let e = Selector::from_node(&node).unwrap_err();
        assert_eq!(e.origin.file, PATCH, "{bad}: {}", e.message);
    }
}

#[test]
fn scope_of_kinds() {
    assert_eq!(is_namespaced("", "v1", "Secret"), Some(true));
    assert_eq!(is_namespaced("", "v1", "PersistentVolume"), Some(false));
    assert_eq!(is_namespaced("example.com", "v1", "Widget"), None);
}
