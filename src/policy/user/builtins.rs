//! What conftest gives policies beyond OPA's builtins, as regorus extensions:
//!
//! - `data.conftest.file`: `{"name", "dir"}` of the file being checked (conftest's
//!   `Engine.addFileInfo`). It is a rule in an internal module that reads the file of the
//!   current thread, so moving to the next file recompiles nothing: writing it into the data
//!   document instead would re-prepare the engine for every file;
//! - `parse_config(parser, text)`, `parse_config_file(path)` and
//!   `parse_combined_config_files(paths)` (conftest's `builtins/parse_config.go`) for the
//!   formats kubegate reads, YAML and JSON;
//! - `opa.runtime()`, whose `env` holds only the variables `--policy-env` allows (conftest
//!   shows every variable, CI tokens included);
//! - `http.send` is refused: kubegate makes no network calls.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use globset::{GlobBuilder, GlobSetBuilder};
use regorus::{Engine, Value};

use crate::parse::Limits;

/// Parser names `parse_config` accepts.
pub const PARSERS: &str = "yaml, yml, json";

/// What a policy that calls `http.send` is told.
pub const HTTP_HINT: &str = "kubegate makes no network calls, so `http.send` is not available; \
                             give the policy what it needs with --data instead";

/// The file name conftest gives the single input of `--combine` (`data.conftest.file.name`).
pub const COMBINED: &str = "Combined";

/// Source path of the internal module that defines `data.conftest.file`.
pub const FILE_INFO_MODULE: &str = "<kubegate>/conftest-file.rego";
const FILE_INFO_EXTENSION: &str = "kubegate.conftest_file";

thread_local! {
    /// `data.conftest.file` for the evaluation running on this thread.
    static CURRENT_FILE: RefCell<Value> = const { RefCell::new(Value::Undefined) };
}

/// Makes `info` the value of `data.conftest.file` for evaluations on this thread.
pub fn set_current_file(info: &Value) {
    CURRENT_FILE.with(|c| *c.borrow_mut() = info.clone());
}

/// `{"name": <base name>, "dir": <absolute directory>}` of `file`, as conftest computes it
/// with Go's `filepath.Abs` (relative to the working directory, `..` resolved lexically,
/// symbolic links kept).
pub fn file_info(file: &str) -> Value {
    let path = Path::new(file);
    let abs = std::path::absolute(path)
        .map(|p| clean(&p))
        .unwrap_or_else(|_| clean(path));
    let name = abs
        .file_name()
        .map_or_else(|| abs.to_string_lossy(), |n| n.to_string_lossy());
    let dir = abs.parent().unwrap_or(&abs).to_string_lossy();
    let mut o = BTreeMap::new();
    o.insert(Value::from("name"), Value::from(name.as_ref()));
    o.insert(Value::from("dir"), Value::from(dir.as_ref()));
    Value::from(o)
}

/// Resolves `.` and `..` without touching the file system, like Go's `filepath.Clean`.
pub fn clean(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// `opa.runtime()`: `{"env", "version", "commit"}` like OPA and conftest, with only the
/// environment variables whose names match one of `allowed` (globs).
pub fn runtime(allowed: &[String]) -> anyhow::Result<Value> {
    let mut set = GlobSetBuilder::new();
    for pattern in allowed {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .with_context(|| format!("invalid --policy-env pattern `{pattern}`"))?;
        set.add(glob);
    }
    let set = set.build().context("--policy-env patterns")?;
    let mut env = BTreeMap::new();
    if !allowed.is_empty() {
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if set.is_match(name) {
                env.insert(
                    Value::from(name),
                    Value::from(value.to_string_lossy().as_ref()),
                );
            }
        }
    }
    let mut o = BTreeMap::new();
    o.insert(Value::from("env"), Value::from(env));
    o.insert(
        Value::from("version"),
        Value::from(env!("CARGO_PKG_VERSION")),
    );
    o.insert(Value::from("commit"), Value::from(""));
    Ok(Value::from(o))
}

/// Where `parse_config_file` and `parse_combined_config_files` look for relative paths.
///
/// conftest resolves them against the directory of the policy file that makes the call. An
/// extension is not told its caller, so kubegate uses the directories of the policy files
/// whose text calls these builtins: with one such directory (the usual case) the result is
/// conftest's; with several, the path must exist under exactly one of them.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    dirs: Vec<PathBuf>,
}

impl Resolver {
    pub fn new(mut dirs: Vec<PathBuf>) -> Self {
        dirs.sort();
        dirs.dedup();
        Self { dirs }
    }

    fn resolve(&self, builtin: &str, file: &str) -> anyhow::Result<PathBuf> {
        let path = Path::new(file);
        if path.is_absolute() {
            return Ok(clean(path));
        }
        let mut candidates: Vec<PathBuf> = self.dirs.iter().map(|d| clean(&d.join(path))).collect();
        candidates.dedup();
        if candidates.len() <= 1 {
            return Ok(candidates.pop().unwrap_or_else(|| clean(path)));
        }
        let existing: Vec<&PathBuf> = candidates.iter().filter(|c| c.exists()).collect();
        let list = |paths: &[&PathBuf]| {
            paths
                .iter()
                .map(|p| crate::discover::display_path(p))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match existing.as_slice() {
            [one] => Ok((*one).clone()),
            [] => bail!(
                "{builtin}: `{file}` is not under any directory of the policies that call it \
                 (tried {})",
                list(&candidates.iter().collect::<Vec<_>>())
            ),
            many => bail!(
                "{builtin}: `{file}` is ambiguous: policies in several directories call \
                 {builtin} and each has it ({}); kubegate cannot tell which policy made the \
                 call, so give the files distinct paths",
                list(many)
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Yaml,
    Json,
}

fn parser_named(name: &str) -> Option<Format> {
    match name {
        "yaml" | "yml" => Some(Format::Yaml),
        "json" => Some(Format::Json),
        _ => None,
    }
}

/// The parser conftest's `parser.NewFromPath` would pick, among those kubegate has: by
/// extension, YAML when there is none.
fn parser_for(builtin: &str, path: &Path) -> anyhow::Result<Format> {
    let shown = crate::discover::display_path(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name == "dockerfile" || name.contains("dockerfile.") {
        bail!(
            "{builtin}: cannot parse {shown}: kubegate has no Dockerfile parser (it reads {PARSERS})"
        );
    }
    match path.extension().and_then(|e| e.to_str()) {
        None => Ok(Format::Yaml),
        Some(ext) => parser_named(ext).ok_or_else(|| {
            anyhow!("{builtin}: cannot parse {shown}: no parser for `.{ext}` files (kubegate reads {PARSERS})")
        }),
    }
}

/// Parses `text`: one YAML document gives its value, several an array of them (conftest's
/// YAML parser); JSON gives its value.
fn parse(format: Format, text: &str) -> Result<serde_json::Value, String> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}")),
        Format::Yaml => {
            let (docs, issues) = crate::parse::yaml::parse(text, &Limits::default());
            if let Some(issue) = issues.first() {
                let p = crate::source::LineIndex::new(text).position(text, issue.start as usize);
                return Err(format!(
                    "invalid YAML at line {}, column {}: {}",
                    p.line, p.column, issue.message
                ));
            }
            let mut values: Vec<serde_json::Value> = docs.into_iter().map(|d| d.value).collect();
            Ok(match values.len() {
                0 => serde_json::Value::Null,
                1 => values.pop().unwrap_or_default(),
                _ => serde_json::Value::Array(values),
            })
        }
    }
}

fn string_arg<'a>(
    args: &'a [Value],
    i: usize,
    builtin: &str,
    what: &str,
) -> anyhow::Result<&'a str> {
    match args.get(i).map(Value::as_string) {
        Some(Ok(s)) => Ok(s.as_ref()),
        _ => bail!("{builtin}: {what} must be a string"),
    }
}

/// `parse_config(parser, text)`.
fn parse_config(args: &[Value]) -> anyhow::Result<Value> {
    const NAME: &str = "parse_config";
    let parser = string_arg(args, 0, NAME, "the parser name")?;
    let text = string_arg(args, 1, NAME, "the configuration")?;
    let Some(format) = parser_named(parser) else {
        bail!("{NAME}: unknown parser `{parser}`; kubegate supports {PARSERS}");
    };
    let value = parse(format, text).map_err(|e| anyhow!("{NAME}: {e}"))?;
    Ok(crate::policy::to_rego(&value))
}

/// Reads and parses one configuration file for `builtin`.
fn read_config(builtin: &str, path: &Path) -> anyhow::Result<serde_json::Value> {
    let format = parser_for(builtin, path)?;
    let shown = crate::discover::display_path(path);
    let max = Limits::default().max_file_size;
    let text = crate::read::read_text(path, max)
        .map_err(|e| anyhow!("{builtin}: cannot read {shown}: {e}"))?;
    parse(format, &text).map_err(|e| anyhow!("{builtin}: {shown}: {e}"))
}

/// `parse_config_file(path)`.
fn parse_config_file(resolver: &Resolver, args: &[Value]) -> anyhow::Result<Value> {
    const NAME: &str = "parse_config_file";
    let file = string_arg(args, 0, NAME, "the path")?;
    let path = resolver.resolve(NAME, file)?;
    Ok(crate::policy::to_rego(&read_config(NAME, &path)?))
}

/// `parse_combined_config_files(paths)`: `[{"path", "contents"}, ...]` sorted by path, one
/// element per document (an array parsed from a file gives one per item), like `--combine`.
fn parse_combined_config_files(resolver: &Resolver, args: &[Value]) -> anyhow::Result<Value> {
    const NAME: &str = "parse_combined_config_files";
    let items: Vec<Value> = match args.first() {
        Some(v) => match (v.as_array(), v.as_set()) {
            (Ok(a), _) => a.iter().cloned().collect(),
            (_, Ok(s)) => s.iter().cloned().collect(),
            _ => bail!("{NAME}: the paths must be an array of strings"),
        },
        None => bail!("{NAME}: the paths must be an array of strings"),
    };
    let mut out: Vec<(String, serde_json::Value)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Ok(file) = item.as_string() else {
            bail!("{NAME}: path {i} is not a string");
        };
        let path = resolver.resolve(NAME, file)?;
        let shown = crate::discover::display_path(&path);
        match read_config(NAME, &path)? {
            serde_json::Value::Array(docs) => {
                out.extend(docs.into_iter().map(|d| (shown.clone(), d)));
            }
            doc => out.push((shown, doc)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let combined: Vec<serde_json::Value> = out
        .into_iter()
        .map(|(path, contents)| serde_json::json!({"path": path, "contents": contents}))
        .collect();
    Ok(crate::policy::to_rego(&serde_json::Value::Array(combined)))
}

/// Adds the internal `data.conftest.file` module and every extension to `engine`.
/// `runtime` is `opa.runtime()`'s value, computed once.
pub fn register(engine: &mut Engine, runtime: Value, resolver: Resolver) -> anyhow::Result<()> {
    let err = |e: anyhow::Error| anyhow!("registering conftest's builtins: {e}");
    engine
        .add_policy(
            FILE_INFO_MODULE.to_owned(),
            format!("package conftest\n\nfile := {FILE_INFO_EXTENSION}()\n"),
        )
        .map_err(err)?;
    engine
        .add_extension(
            FILE_INFO_EXTENSION.to_owned(),
            0,
            Box::new(|_: Vec<Value>| Ok(CURRENT_FILE.with(|c| c.borrow().clone()))),
        )
        .map_err(err)?;
    engine
        .add_extension(
            "opa.runtime".to_owned(),
            0,
            Box::new(move |_: Vec<Value>| Ok(runtime.clone())),
        )
        .map_err(err)?;
    engine
        .add_extension(
            "parse_config".to_owned(),
            2,
            Box::new(|args: Vec<Value>| parse_config(&args)),
        )
        .map_err(err)?;
    let resolver = Arc::new(resolver);
    let r = resolver.clone();
    engine
        .add_extension(
            "parse_config_file".to_owned(),
            1,
            Box::new(move |args: Vec<Value>| parse_config_file(&r, &args)),
        )
        .map_err(err)?;
    engine
        .add_extension(
            "parse_combined_config_files".to_owned(),
            1,
            Box::new(move |args: Vec<Value>| parse_combined_config_files(&resolver, &args)),
        )
        .map_err(err)?;
    // Load refuses policies that call it; this catches a call the scan missed.
    engine
        .add_extension(
            "http.send".to_owned(),
            1,
            Box::new(|_: Vec<Value>| Err(anyhow!("{HTTP_HINT}"))),
        )
        .map_err(err)?;
    Ok(())
}

/// Line and column (1-based) of the first call `name(` in Rego source `src`, outside
/// comments and strings, not part of a longer reference (`data.http.send(` is a user
/// function, not the builtin).
pub fn find_call(src: &str, name: &str) -> Option<(usize, usize)> {
    let b = src.as_bytes();
    let n = name.as_bytes();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    if b[i] == b'\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            _ => {
                if b[i..].starts_with(n) && (i == 0 || !ident(b[i - 1])) {
                    let mut j = i + n.len();
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if b.get(j) == Some(&b'(') {
                        let column = src.get(line_start..i).map_or(1, |s| s.chars().count() + 1);
                        return Some((line, column));
                    }
                }
                i += 1;
            }
        }
    }
    None
}

/// Whether the source imports `data.http`, which makes `http.send(...)` a user function.
pub fn imports_data_http(src: &str) -> bool {
    src.lines().any(|l| {
        let l = l.trim();
        l.strip_prefix("import data.http")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '#']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(policy: &str) -> Engine {
        let mut e = Engine::new();
        let runtime =
            Value::from_json_str(r#"{"env": {"A": "1"}, "version": "v", "commit": ""}"#).unwrap();
        register(&mut e, runtime, Resolver::default()).unwrap();
        e.add_policy("p.rego".into(), policy.into()).unwrap();
        e
    }

    #[test]
    fn extensions_work_in_rules_and_queries_and_survive_clone() {
        let mut e = engine(
            "package main\nimport rego.v1\n\
             env := opa.runtime().env\n\
             cfg := parse_config(\"json\", `{\"a\": [1]}`)\n\
             file := data.conftest.file.name\n",
        );
        set_current_file(&file_info("dir/x.yaml"));
        let check = |e: &mut Engine| {
            assert_eq!(
                e.eval_rule("data.main.env".into()).unwrap()["A"],
                Value::from("1")
            );
            assert_eq!(
                e.eval_rule("data.main.cfg".into()).unwrap()["a"][0],
                Value::from(1u64)
            );
            assert_eq!(
                e.eval_rule("data.main.file".into()).unwrap(),
                Value::from("x.yaml")
            );
            let q = e
                .eval_query("parse_config(\"yaml\", \"b: 2\").b".into(), false)
                .unwrap();
            assert_eq!(q.result[0].expressions[0].value, Value::from(2u64));
            let q = e.eval_query("opa.runtime().version".into(), false).unwrap();
            assert_eq!(q.result[0].expressions[0].value, Value::from("v"));
        };
        check(&mut e);
        let mut clone = e.clone();
        check(&mut clone);
        // The clone runs on another thread, which has its own current file.
        std::thread::scope(|s| {
            s.spawn(move || {
                set_current_file(&file_info("/a/b/other.yml"));
                assert_eq!(
                    clone.eval_rule("data.main.file".into()).unwrap(),
                    Value::from("other.yml")
                );
            });
        });
        assert_eq!(
            e.eval_rule("data.main.file".into()).unwrap(),
            Value::from("x.yaml")
        );
    }

    #[test]
    fn parse_config_shapes_and_errors() {
        let v = |parser: &str, text: &str| {
            parse_config(&[Value::from(parser), Value::from(text)]).map_err(|e| e.to_string())
        };
        assert_eq!(v("yml", "a: 1").unwrap()["a"], Value::from(1u64));
        let multi = v("yaml", "a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(multi[1]["b"], Value::from(2u64));
        assert_eq!(v("yaml", "").unwrap(), Value::Null);
        assert_eq!(v("json", "[true]").unwrap()[0], Value::from(true));
        let err = v("toml", "a = 1").unwrap_err();
        assert!(err.contains("`toml`") && err.contains(PARSERS), "{err}");
        let err = v("yaml", "a: [1\n").unwrap_err();
        assert!(err.contains("invalid YAML at line"), "{err}");
        let err = v("json", "{").unwrap_err();
        assert!(err.contains("invalid JSON"), "{err}");
        let err = parse_config(&[Value::from(1u64), Value::from("")]).unwrap_err();
        assert!(err.to_string().contains("parser name must be a string"));
    }

    #[test]
    fn file_info_is_absolute_and_lexically_clean() {
        let cwd = std::env::current_dir().unwrap();
        let info = file_info("a/../b/c.yaml");
        assert_eq!(info["name"], Value::from("c.yaml"));
        assert_eq!(
            info["dir"],
            Value::from(cwd.join("b").to_string_lossy().as_ref())
        );
        let combined = file_info(COMBINED);
        assert_eq!(combined["name"], Value::from("Combined"));
        assert_eq!(combined["dir"], Value::from(cwd.to_string_lossy().as_ref()));
        assert_eq!(clean(Path::new("../x/./y/..")), PathBuf::from("../x"));
        assert_eq!(clean(Path::new("/../a")), PathBuf::from("/a"));
    }

    #[test]
    fn calls_are_found_outside_comments_and_strings() {
        let src = "package p\n# http.send({})\nx := \"http.send(1)\"\ny := `\nhttp.send(2)`\n\
                   m := data.http.send(1)\nt if { true with http.send as {} }\n\
                   z := é + http.send ({\"url\": \"u\"})\n";
        assert_eq!(find_call(src, "http.send"), Some((8, 10)));
        assert_eq!(
            find_call("package p\nx := http.sender(1)\n", "http.send"),
            None
        );
        assert!(imports_data_http("package p\n  import data.http # mine\n"));
        assert!(!imports_data_http("package p\nimport data.https\n"));
    }

    #[test]
    fn runtime_env_holds_only_allowed_variables() {
        let all = runtime(&[]).unwrap();
        assert_eq!(all["env"], Value::new_object());
        assert_eq!(all["commit"], Value::from(""));
        // PATH is set wherever tests run; HOME is not asked for.
        let some = runtime(&["PAT?".to_owned()]).unwrap();
        let env = some["env"].as_object().unwrap();
        assert!(env.contains_key(&Value::from("PATH")));
        assert!(!env.contains_key(&Value::from("HOME")));
        assert!(runtime(&["[".to_owned()]).is_err());
    }

    #[test]
    fn relative_paths_resolve_against_the_calling_policies_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("only-a.yaml"), "x: 1\n").unwrap();
        std::fs::write(a.join("both.yaml"), "x: 1\n").unwrap();
        std::fs::write(b.join("both.yaml"), "x: 2\n").unwrap();
        let one = Resolver::new(vec![a.clone()]);
        assert_eq!(
            one.resolve("f", "../b/both.yaml").unwrap(),
            b.join("both.yaml")
        );
        let two = Resolver::new(vec![a.clone(), b.clone()]);
        assert_eq!(
            two.resolve("f", "only-a.yaml").unwrap(),
            a.join("only-a.yaml")
        );
        let err = two.resolve("f", "both.yaml").unwrap_err().to_string();
        assert!(err.contains("ambiguous"), "{err}");
        let err = two.resolve("f", "none.yaml").unwrap_err().to_string();
        assert!(err.contains("not under any directory"), "{err}");
    }
}
