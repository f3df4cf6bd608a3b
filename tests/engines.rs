//! regorus's virtual machine and its interpreter must agree on every built-in rule, over
//! every rule fixture and (when present) the whole shared corpus. This is what makes it
//! safe to run the rules on the faster VM.

mod common;

use std::path::{Path, PathBuf};

use kubegate::parse::{self, Contents, Limits};
use kubegate::policy::{Builtins, Mode};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn vm_and_interpreter_agree_on_every_rule() {
    let mut files = Vec::new();
    yaml_files(&common::root().join("fixtures"), &mut files);
    match common::shared() {
        Some(s) => yaml_files(&s.join("corpus"), &mut files),
        None => eprintln!("the corpus part did not run: ../shared/corpus is not in this checkout"),
    }
    files.sort();
    let mut interp = Builtins::load_mode(|_| true, Mode::Interpreter).unwrap();
    let mut vm = Builtins::load_mode(|_| true, Mode::Vm).unwrap();
    let limits = Limits::default();
    let mut objects = 0;
    let mut diffs = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for doc in parse::yaml::parse(&text, &limits).0 {
            let Contents::Objects(objs) = parse::objects(&doc) else {
                continue;
            };
            for o in objs {
                objects += 1;
                let key = |v: Vec<kubegate::policy::Violation>| {
                    let mut v: Vec<_> = v
                        .into_iter()
                        .map(|v| (v.rule, v.pointer, v.message))
                        .collect();
                    v.sort();
                    v
                };
                let a = interp
                    .evaluate(o.kind, o.value)
                    .map(key)
                    .map_err(|e| e.to_string());
                let b = vm
                    .evaluate(o.kind, o.value)
                    .map(key)
                    .map_err(|e| e.to_string());
                if a != b && diffs.len() < 20 {
                    diffs.push(format!(
                        "{} doc {} ({} {}):\n  interpreter {a:?}\n  vm          {b:?}",
                        f.display(),
                        doc.index,
                        o.kind,
                        o.name().unwrap_or("?")
                    ));
                }
            }
        }
    }
    assert!(objects > 100);
    assert!(diffs.is_empty(), "\n{}", diffs.join("\n"));
}
