//! `kubegate render DIR`: what `kubectl kustomize DIR` prints, natively; or, as JSON, the
//! objects with the origin of every node.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use super::build::{self, Options};
use super::files::Files;
use super::node::{Kind, Node, Origin};
use crate::cli::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, diag};

/// Renders `dir`; exit 0 when it renders, 1 when kustomize would fail, 2 on a usage error.
pub fn run(dir: &Path, json_out: bool, restrict_to_root: bool) -> anyhow::Result<u8> {
    // What an earlier run in this process learnt of the file system may no longer hold.
    crate::canonical::forget();
    if !dir.is_dir() {
        diag(&format!(
            "kubegate: error: {}: not a directory",
            crate::discover::display_path(dir)
        ));
        return Ok(EXIT_ERROR);
    }
    let confine = crate::git::Repo::discover(dir).ok().flatten().map_or_else(
        || std::env::current_dir().unwrap_or_default(),
        |r| r.root().to_path_buf(),
    );
    let files = Files::new(&confine, crate::parse::Limits::default());
    // `helmCharts` render with the `helm` on PATH, as `kubectl kustomize --enable-helm`.
    let helm = super::helm::run::find(None).map(|path| super::helmcharts::Helm {
        path,
        timeout: std::time::Duration::from_secs(60),
        kube_version: None,
        max_output: files.limits.max_file_size,
    });
    let built = build::build(
        &files,
        dir,
        &Options {
            restrict_to_root,
            helm,
            network: None,
        },
    );
    let mut lines = Lines::new(&files);
    for w in &built.warnings {
        diag(&format!(
            "kubegate: warning: {}: {} [{}]",
            lines.at(w.origin, false),
            w.message,
            w.rule
        ));
    }
    let resources = match built.result {
        Ok(r) => r,
        Err(e) => {
            diag(&format!(
                "kubegate: error: {}: {}",
                lines.at(e.origin, e.at_key),
                e.message
            ));
            return Ok(EXIT_FINDINGS);
        }
    };
    let mut out = std::io::stdout().lock();
    if json_out {
        // Each object written from its nodes (keys sorted, as a JSON value's), not copied
        // into a value first.
        #[derive(serde::Serialize)]
        struct Written<'a> {
            object: &'a Node,
            origins: Map<String, Value>,
        }
        #[derive(serde::Serialize)]
        struct Objects<'a> {
            objects: Vec<Written<'a>>,
        }
        let objects = resources
            .iter()
            .map(|r| {
                let mut origins = Map::new();
                collect_origins(&r.node, String::new(), &mut lines, &mut origins);
                Written {
                    object: &r.node,
                    origins,
                }
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &Objects { objects })?;
        writeln!(out)?;
    } else {
        let values: Vec<Value> = resources.iter().map(|r| r.node.to_value()).collect();
        out.write_all(super::emit::documents(values.iter()).as_bytes())?;
    }
    out.flush()?;
    Ok(EXIT_CLEAN)
}

/// Every node's origin, by JSON pointer.
fn collect_origins(
    node: &Node,
    pointer: String,
    lines: &mut Lines<'_>,
    out: &mut Map<String, Value>,
) {
    out.insert(pointer.clone(), Value::String(lines.at(node.origin, false)));
    match &node.kind {
        Kind::Map(m) => {
            for (k, v) in m {
                let p = format!("{pointer}/{}", crate::parse::source_map::escape(k));
                collect_origins(v, p, lines, out);
            }
        }
        Kind::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_origins(v, format!("{pointer}/{i}"), lines, out);
            }
        }
        _ => {}
    }
}

/// `file:line:column` of origins (each file's line index is built once, by the file).
struct Lines<'a> {
    files: &'a Files,
}

impl<'a> Lines<'a> {
    fn new(files: &'a Files) -> Self {
        Self { files }
    }

    fn at(&mut self, origin: Origin, at_key: bool) -> String {
        if self.files.is_empty() {
            return "<unknown>".into();
        }
        let f = self.files.get(origin.file);
        let p = f.position(origin.span(at_key).start as usize);
        format!("{}:{}:{}", f.display, p.line, p.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_run_does_not_answer_from_what_an_earlier_run_learnt() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let git = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(d)
            .status();
        if !git.is_ok_and(|s| s.success()) {
            eprintln!("the test did not run: `git init` failed (is git installed?)");
            return;
        }
        write(&d.join("kustomization.yaml"), "resources:\n- x\n");
        write(
            &d.join("x"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        );
        assert_eq!(run(d, false, true).unwrap(), 0);
        // The entry `x` is now a base directory: the next run must see a directory, not
        // the file the first one found there.
        std::fs::remove_file(d.join("x")).unwrap();
        std::fs::create_dir(d.join("x")).unwrap();
        write(&d.join("x/kustomization.yaml"), "resources:\n- cm.yaml\n");
        write(
            &d.join("x/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        );
        assert_eq!(run(d, false, true).unwrap(), 0);
    }
}
