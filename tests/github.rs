//! The `github` format (workflow commands) and the job summary, end to end: escaping of
//! hostile file names and policy messages, the annotation cap, the GitHub Actions default
//! output, and determinism.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Run, root};

/// Runs kubegate in `dir` with only the GitHub variables given in `env` (the others are
/// removed, so the tests behave the same inside GitHub Actions).
fn kubegate_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubegate"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "NO_COLOR",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_SERVER_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_SHA",
        "GITHUB_WORKSPACE",
        "CI_PROJECT_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("kubegate runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "kubegate panicked:\n{}",
        run.stderr
    );
    run
}

/// One parsed workflow command.
#[derive(Debug)]
struct Cmd {
    name: String,
    props: BTreeMap<String, String>,
    data: String,
}

/// Whether `line` matches CI-FACTS §8.2:
/// `^::(error|warning|notice)( [A-Za-z]+=[^,:\r\n]*(,[A-Za-z]+=[^,:\r\n]*)*)?::[^\r\n]*$`.
fn matches_command_syntax(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("::") else {
        return false;
    };
    let Some((name, rest)) = ["error", "warning", "notice"]
        .iter()
        .find_map(|n| rest.strip_prefix(n).map(|r| (*n, r)))
    else {
        return false;
    };
    let _ = name;
    let data = if let Some(data) = rest.strip_prefix("::") {
        data
    } else if let Some(props) = rest.strip_prefix(' ') {
        // No property value holds a `:`, so the first `:` starts the `::` separator.
        let Some(colon) = props.find(':') else {
            return false;
        };
        let (props, data) = props.split_at(colon);
        let Some(data) = data.strip_prefix("::") else {
            return false;
        };
        let prop_ok = |p: &str| match p.split_once('=') {
            Some((k, v)) => {
                !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphabetic())
                    && !v.contains([',', ':', '\r', '\n'])
            }
            None => false,
        };
        if !props.split(',').all(prop_ok) {
            return false;
        }
        data
    } else {
        return false;
    };
    !data.contains(['\r', '\n'])
}

/// The runner's parser (`ActionCommand.TryParseV2`) and decoders, in its order:
/// `%0D`, `%0A`, `%3A`, `%2C`, `%25` for properties; `%0D`, `%0A`, `%25` for data.
fn parse(line: &str) -> Cmd {
    let line = line.trim_start();
    let rest = line.strip_prefix("::").expect("starts with ::");
    let end = rest.find("::").expect("has the data separator");
    let (info, data) = (&rest[..end], &rest[end + 2..]);
    let (name, props) = info.split_once(' ').unwrap_or((info, ""));
    let mut map = BTreeMap::new();
    for p in props.trim().split(',').filter(|p| !p.is_empty()) {
        if let Some((k, v)) = p.split_once('=')
            && !v.is_empty()
        {
            map.insert(k.to_owned(), unescape_property(v));
        }
    }
    Cmd {
        name: name.to_owned(),
        props: map,
        data: unescape_data(data),
    }
}

fn unescape_property(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

fn unescape_data(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

/// Every `%` in an escaped property starts one of the toolkit's escapes.
fn only_known_escapes(v: &str) -> bool {
    v.match_indices('%').all(|(i, _)| {
        ["%25", "%0D", "%0A", "%3A", "%2C"]
            .iter()
            .any(|e| v[i..].starts_with(e))
    })
}

/// The raw property values of a command line, still escaped.
fn raw_props(line: &str) -> Vec<String> {
    let rest = &line[2..];
    let end = rest.find("::").unwrap();
    let info = &rest[..end];
    match info.split_once(' ') {
        Some((_, props)) => props
            .split(',')
            .filter_map(|p| p.split_once('=').map(|(_, v)| v.to_owned()))
            .collect(),
        None => Vec::new(),
    }
}

/// The lines as the runner reads them: it ends a line at `\n` or `\r`.
fn runner_lines(out: &str) -> impl Iterator<Item = &str> {
    out.split(['\n', '\r']).filter(|l| !l.is_empty())
}

/// No line of `out` can act as a workflow command other than the annotations listed in
/// `ours`: no `##[` anywhere, and every line that starts with `::` (after leading whitespace)
/// is one of ours.
fn assert_inert_but_ours(out: &str, ours: &[&str]) {
    for line in runner_lines(out) {
        assert!(!line.contains("##["), "legacy command prefix in {line:?}");
        if line.trim_start().starts_with("::") {
            assert!(
                ours.contains(&line),
                "a command line that is not ours: {line:?}"
            );
        }
    }
}

const HOSTILE_FILE: &str = "we:ird, 100% app.yaml";

/// Messages of the hostile policy, in the order of the rules below.
const HOSTILE_MESSAGES: [&str; 6] = [
    "100% bad\r\nline two %0A and %25 and %3A",
    "::warning::x",
    "##[add-mask]secret",
    "a:b, c:d 🚀",
    "end\n::error file=x.yaml,line=1::forged\r::stop-commands::abcdefghijklmnopq",
    "x ###[group]g\n  ::notice::y",
];

fn hostile_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join(HOSTILE_FILE),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n",
    )
    .unwrap();
    std::fs::create_dir(p.join("policy")).unwrap();
    let mut rego = String::from("package main\n\nimport rego.v1\n");
    for m in HOSTILE_MESSAGES {
        // A JSON string is a valid Rego string, with the same escapes.
        let lit = serde_json::to_string(m).unwrap();
        rego.push_str(&format!(
            "\ndeny contains msg if {{\n\tinput.kind == \"ConfigMap\"\n\tmsg := {lit}\n}}\n"
        ));
    }
    std::fs::write(p.join("policy/main.rego"), rego).unwrap();
    dir
}

/// The documented substitution: `##[` becomes `#`, WORD JOINER, `#[`.
fn neutralised(s: &str) -> String {
    s.replace("##[", "#\u{2060}#[")
}

#[test]
fn hostile_names_and_messages_are_escaped_and_round_trip() {
    let dir = hostile_fixture();
    let r = kubegate_env(
        dir.path(),
        &["check", "--policy", "policy", "--format", "github", "."],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), HOSTILE_MESSAGES.len(), "{}", r.stdout);
    // The only line breaks are ours.
    assert!(!r.stdout.contains('\r'));
    assert_eq!(r.stdout.matches('\n').count(), lines.len());

    let mut messages = Vec::new();
    for line in &lines {
        assert!(matches_command_syntax(line), "{line:?}");
        for v in raw_props(line) {
            assert!(!v.contains([':', ',', '\r', '\n']), "{v:?}");
            assert!(only_known_escapes(&v), "{v:?}");
        }
        let cmd = parse(line);
        assert_eq!(cmd.name, "error");
        assert_eq!(cmd.props["file"], HOSTILE_FILE);
        assert_eq!(cmd.props["title"], "main.deny");
        assert_eq!(cmd.props["line"], "1");
        assert_eq!(cmd.props["endLine"], "1");
        let (col, end) = (&cmd.props["col"], &cmd.props["endColumn"]);
        assert!(end.parse::<u32>().unwrap() >= col.parse::<u32>().unwrap());
        assert!(cmd.data.chars().count() <= 4096);
        let prefix = format!("{HOSTILE_FILE}:1:1: main.deny ");
        let message = cmd
            .data
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{:?} lacks {prefix:?}", cmd.data));
        messages.push(message.to_owned());
    }
    let mut expected: Vec<String> = HOSTILE_MESSAGES.iter().map(|m| neutralised(m)).collect();
    expected.sort();
    messages.sort();
    assert_eq!(messages, expected);
    assert_inert_but_ours(&r.stdout, &lines);
}

/// Under GitHub Actions with no `--format`: the human report, then the annotations. The human
/// report carries the same hostile text, and must not produce commands either.
#[test]
fn github_actions_default_prints_the_report_and_inert_annotations() {
    let dir = hostile_fixture();
    let r = kubegate_env(
        dir.path(),
        &["check", "--policy", "policy", "."],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("error[main.deny]"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!(" --> {HOSTILE_FILE}:1:1")));
    let ours: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(ours.len(), HOSTILE_MESSAGES.len(), "{}", r.stdout);
    assert!(ours.iter().all(|l| matches_command_syntax(l)));
    // The report comes first, the annotations last.
    let first = r.stdout.find("::error ").unwrap();
    assert!(r.stdout.find("error[main.deny]").unwrap() < first);
    assert_inert_but_ours(&r.stdout, &ours);
    assert_inert_but_ours(&r.stderr, &[]);

    // On the demo fixture, too (no hostile text): both reports.
    let r = kubegate_env(
        &root(),
        &["check", "fixtures/demo"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("error[schema-unknown-field]"));
    assert!(r.stdout.contains(" --> fixtures/demo/apps/web.yaml:10:3"));
    assert!(r.stdout.lines().any(|l| {
        l.starts_with("::error file=fixtures/demo/apps/web.yaml,line=10,endLine=10,col=3,")
    }));
    assert!(!r.stdout.contains('\u{1b}'));
}

#[test]
fn at_most_ten_annotations_per_type_and_a_summary_of_all() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n",
    )
    .unwrap();
    std::fs::create_dir(p.join("policy")).unwrap();
    std::fs::write(
        p.join("policy/main.rego"),
        "package main\n\nimport rego.v1\n\n\
         deny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\tsome i in numbers.range(1, 25)\n\
         \tmsg := sprintf(\"problem %02d | with `pipes` <b>and</b>\\nlines\", [i])\n}\n",
    )
    .unwrap();
    let summary = p.join("summary.md");
    std::fs::write(&summary, "earlier step output\n").unwrap();
    let summary_s = summary.to_str().unwrap();
    let args = [
        "check", "--policy", "policy", "--format", "github", "cm.yaml",
    ];
    let env = [
        ("GITHUB_STEP_SUMMARY", summary_s),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/deploy"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
    ];
    let r = kubegate_env(p, &args, &env);
    // The cap never changes the exit code.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines.iter().all(|l| matches_command_syntax(l)),
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("::error ")).count(),
        10
    );
    let notices: Vec<&&str> = lines.iter().filter(|l| l.starts_with("::notice")).collect();
    assert_eq!(notices.len(), 1, "{lines:#?}");
    assert_eq!(lines.len(), 11);
    assert_eq!(lines.last(), notices.first().copied());
    let notice = parse(notices[0]).data;
    assert!(notice.contains("15 findings not shown"), "{notice}");
    assert!(notice.contains("(15 errors)"), "{notice}");
    assert!(notice.contains("job summary lists all 25"), "{notice}");
    // The first ten in report order.
    for (i, line) in lines[..10].iter().enumerate() {
        assert!(
            parse(line).data.contains(&format!("problem {:02} ", i + 1)),
            "{line}"
        );
    }

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step output\n\n## kubegate: 25 errors\n"),
        "{md}"
    );
    assert!(md.contains("| main.deny |  | error | 25 |"), "{md}");
    for i in 1..=25 {
        let row = format!(
            "| error | main.deny | [cm.yaml:1:1](https://github.com/acme/deploy/blob/0123456789abcdef0123456789abcdef01234567/cm.yaml#L1) \
             | problem {i:02} \\| with &#96;pipes&#96; &lt;b&gt;and&lt;/b&gt;<br>lines |"
        );
        assert_eq!(md.matches(&row).count(), 1, "missing {row}\n{md}");
    }
    assert!(!md.contains("not listed"));
    assert_tables_are_valid(&md);

    // Without `GITHUB_STEP_SUMMARY`: no summary, and the notice says where else to look.
    let r = kubegate_env(p, &args, &[]);
    assert_eq!(r.code, 1);
    let notice = parse(r.stdout.lines().last().unwrap()).data;
    assert!(notice.contains("--output sarif=FILE"), "{notice}");
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        md,
        "written only when the variable is set"
    );
}

/// Cells of a GFM table row: `|` that no backslash escapes.
fn cell_count(row: &str) -> usize {
    let mut n: usize = 0;
    let mut chars = row.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '|' => n += 1,
            _ => {}
        }
    }
    n.saturating_sub(1)
}

/// Every row of each table has as many cells as its header.
fn assert_tables_are_valid(md: &str) {
    let mut columns = None;
    let mut tables = 0;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cell_count(line);
            if columns.is_none() {
                tables += 1;
            }
            let header = *columns.get_or_insert(n);
            assert_eq!(n, header, "{line}");
            assert!(line.ends_with('|'), "{line}");
        } else {
            columns = None;
        }
    }
    assert_eq!(tables, 3, "{md}");
}

#[test]
fn output_and_summary_are_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = |jobs: &str| {
        let summary = dir.path().join(format!("summary-{jobs}.md"));
        let r = kubegate_env(
            &root(),
            &["check", "fixtures", "--format", "github", "-j", jobs],
            &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
        );
        assert_eq!(r.code, 1, "{}", r.stderr);
        (r.stdout, std::fs::read_to_string(&summary).unwrap())
    };
    let one = run("1");
    let two = run("2");
    assert!(one.0.lines().count() > 10);
    assert!(one.0.contains(",title=KG101 privileged-container::"));
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1);
    assert!(one.1.len() <= 900 * 1024);
    assert_tables_are_valid(&one.1);
}
