//! Every kustomization of `../shared/corpus` (real repositories) that `kubectl kustomize`
//! renders offline renders identically natively: `tests/kustomize/corpus.tsv` holds the
//! SHA-256 of what kubectl 1.35 printed for each (the outputs themselves, ~15 MB, are not
//! committed), recorded by `scripts/record-kustomize.sh --corpus`.

mod common;

use kubegate::parse::Limits;
use kubegate::render::{build, emit, files::Files};
use sha2::{Digest, Sha256};

#[test]
fn corpus_kustomizations_render_as_kubectl_renders_them() {
    let Some(shared) = common::shared() else {
        eprintln!("corpus kustomize parity did not run: ../shared/corpus is not in this checkout");
        return;
    };
    let corpus = shared.join("corpus");
    let table = std::fs::read_to_string(common::root().join("tests/kustomize/corpus.tsv"))
        .expect("tests/kustomize/corpus.tsv");
    let files = Files::new(&corpus, Limits::default());
    let (mut ok, mut same, mut errors_too, mut remote) = (0, 0, 0, 0);
    let mut differ = Vec::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (path, status, sha) = (cols[0], cols[1], cols[2]);
        let dir = corpus.join(path);
        let built = build::build(&files, &dir, &build::Options::default());
        match (status, built.result) {
            ("ok", Ok(resources)) => {
                ok += 1;
                let values: Vec<_> = resources.iter().map(|r| r.node.to_value()).collect();
                let printed = emit::documents(values.iter());
                let digest = format!("{:x}", Sha256::digest(printed.as_bytes()));
                if digest == sha {
                    same += 1;
                } else {
                    differ.push(format!("{path}: renders differently"));
                }
            }
            ("ok", Err(e)) => {
                ok += 1;
                differ.push(format!(
                    "{path}: kubectl renders it, kubegate fails: {}",
                    e.message
                ));
            }
            (_, Err(_)) => errors_too += 1,
            // kubectl ran offline: a remote base fails it, kubegate warns and renders the rest.
            (_, Ok(_)) if built.warnings.iter().any(|w| w.rule == "kustomize-remote") => {
                remote += 1
            }
            (_, Ok(_)) => differ.push(format!("{path}: kubectl fails, kubegate renders it")),
        }
    }
    eprintln!(
        "corpus kustomize parity: {same} of {ok} renders identical; {errors_too} failing in \
         both; {remote} with remote bases (kubectl offline fails, kubegate warns)"
    );
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
