//! What `helm template` prints: its documents, each under the `# Source:` line that names
//! the template it came from, and its errors, at the template and line they name.

/// One document of helm's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc<'a> {
    /// The template, as helm names it: `<chart name>/templates/x.yaml`,
    /// `<chart name>/charts/<sub>/templates/x.yaml`, `<chart name>/crds/x.yaml`.
    pub source: &'a str,
    /// The rendered text, after the `# Source:` line.
    pub text: &'a str,
}

/// Splits helm's output into its documents: each starts with `---` and `# Source: ...`
/// (helm 3 and 4 print the same). Text before the first header has no template and is
/// dropped; a stray `---` inside a document stays in its text.
pub fn split(out: &str) -> Vec<Doc<'_>> {
    let mut docs = Vec::new();
    let mut current: Option<(&str, usize)> = None;
    let mut pos = 0;
    let mut prev_dashes: Option<usize> = None;
    for line in out.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let bare = line.trim_end_matches(['\n', '\r']);
        if let (Some(dash_start), Some(source)) = (prev_dashes, bare.strip_prefix("# Source: ")) {
            if let Some((s, from)) = current.take() {
                docs.push(Doc {
                    source: s,
                    text: &out[from..dash_start],
                });
            }
            current = Some((source.trim(), pos));
            prev_dashes = None;
            continue;
        }
        prev_dashes = (bare == "---").then_some(start);
    }
    if let Some((s, from)) = current {
        docs.push(Doc {
            source: s,
            text: &out[from..],
        });
    }
    docs
}

/// Where helm's error says it happened: the template (as helm names it) and, when it says,
/// the line and column in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAt {
    pub source: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// The first place helm's error message names: `(<chart>/templates/x.yaml:7)`,
/// `<chart>/templates/x.yaml:6:15:` (parse, execution, `required`, `fail`, through
/// `include`: the caller's), or `YAML parse error on <chart>/templates/x.yaml:` (a line of
/// the rendered document, not of the template: no line then). `chart` is the chart's
/// name, every template's first component.
pub fn error_at(message: &str, chart: &str) -> Option<ErrorAt> {
    if let Some(i) = message.find("YAML parse error on ") {
        let rest = &message[i + "YAML parse error on ".len()..];
        let end = rest.find(':').unwrap_or(rest.len());
        let source = rest[..end].trim();
        if source.starts_with(&format!("{chart}/")) {
            return Some(ErrorAt {
                source: source.to_owned(),
                line: None,
                column: None,
            });
        }
    }
    // The last place named with a line is the innermost: the define an `include` failed
    // in, the line an unclosed action started on.
    let prefix = format!("{chart}/");
    let mut last: Option<ErrorAt> = None;
    let mut from = 0;
    while let Some(i) = message[from..].find(&prefix) {
        let start = from + i;
        from = start + prefix.len();
        // A name starts the message, a line or follows a space, `(` or a quote.
        if start > 0
            && !matches!(
                message.as_bytes()[start - 1],
                b' ' | b'(' | b'"' | b'\n' | b'\t'
            )
        {
            continue;
        }
        let rest = &message[start..];
        let end = rest
            .find(|c: char| c == ':' || c == ')' || c == '"' || c.is_whitespace())
            .unwrap_or(rest.len());
        let source = &rest[..end];
        // `:7`, `:6:15`: the line and column after the name.
        let mut after = &rest[end..];
        let mut numbers = Vec::new();
        while numbers.len() < 2 {
            let Some(r) = after.strip_prefix(':') else {
                break;
            };
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            let Some(n) = r[..digits].parse::<u32>().ok() else {
                break;
            };
            numbers.push(n);
            after = &r[digits..];
        }
        let mut numbers = numbers.into_iter();
        if source.contains('.') {
            let at = ErrorAt {
                source: source.to_owned(),
                line: numbers.next(),
                column: numbers.next(),
            };
            if at.line.is_some() || last.is_none() {
                last = Some(at);
            }
        }
    }
    last
}

/// The values path of the first value a `values.schema.json` refuses: helm 4's
/// `- at '/a/b': ...`, helm 3's `- a.b: ...` (`(root)`: the values themselves).
pub fn schema_path(stderr: &str) -> Option<Vec<String>> {
    if !stderr.contains("values don't meet the specifications of the schema") {
        return None;
    }
    for line in stderr.lines() {
        let Some(item) = line.trim_start().strip_prefix("- ") else {
            continue;
        };
        if let Some(rest) = item.strip_prefix("at '") {
            let pointer = &rest[..rest.find('\'')?];
            return Some(
                pointer
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.replace("~1", "/").replace("~0", "~"))
                    .collect(),
            );
        }
        let (path, _) = item.split_once(": ")?;
        if path == "(root)" {
            return Some(Vec::new());
        }
        return Some(path.split('.').map(str::to_owned).collect());
    }
    None
}

/// Helm's error message without its `Error: ` prefix and its `--debug` footer, on one line.
pub fn clean_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("Use --debug flag")
                && !l.starts_with("level=")
                && !l.starts_with("WARNING: ")
        })
        .collect();
    let joined = lines.join(" ");
    joined.strip_prefix("Error: ").unwrap_or(&joined).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_at_their_source_lines() {
        let out = "---\n# Source: app/templates/a.yaml\napiVersion: v1\nkind: A\n---\n# Source: app/templates/b.yaml\n# only a comment\n---\n---\n# Source: app/charts/sub/templates/c.yaml\nkind: C\n---\nkind: D\n";
        let docs = split(out);
        let got: Vec<(&str, &str)> = docs.iter().map(|d| (d.source, d.text)).collect();
        assert_eq!(
            got,
            [
                ("app/templates/a.yaml", "apiVersion: v1\nkind: A\n"),
                ("app/templates/b.yaml", "# only a comment\n---\n"),
                ("app/charts/sub/templates/c.yaml", "kind: C\n---\nkind: D\n"),
            ]
        );
    }

    #[test]
    fn errors_name_their_template_line_and_column() {
        let at = |m: &str| error_at(m, "app").map(|e| (e.source, e.line, e.column));
        assert_eq!(
            at(
                "Error: parse error at (app/templates/cm.yaml:7): unclosed action started at app/templates/cm.yaml:6"
            ),
            Some(("app/templates/cm.yaml".into(), Some(6), None))
        );
        assert_eq!(
            at(
                "Error: template: app/templates/cm.yaml:6:15: executing \"app/templates/cm.yaml\" at <.Values.x>: nil pointer"
            ),
            Some(("app/templates/cm.yaml".into(), Some(6), Some(15)))
        );
        assert_eq!(
            at(
                "Error: app/templates/cm.yaml:6:15\n  executing \"app/templates/cm.yaml\" at <.Values.x>:"
            ),
            Some(("app/templates/cm.yaml".into(), Some(6), Some(15)))
        );
        // Through `include`: the define's place, helm 4's last frame.
        assert_eq!(
            at(
                "Error: app/templates/cm.yaml:6:8\n  executing \"app/templates/cm.yaml\" at <include \"l\" .>:\n    error calling include:\napp/templates/_helpers.tpl:3:16\n  executing \"l\" at <.Values.o.t>:"
            ),
            Some(("app/templates/_helpers.tpl".into(), Some(3), Some(16)))
        );
        assert_eq!(
            at("Error: execution error at (app/templates/cm.yaml:7:8): need .Values.must"),
            Some(("app/templates/cm.yaml".into(), Some(7), Some(8)))
        );
        assert_eq!(
            at(
                "Error: YAML parse error on app/templates/cm.yaml: error converting YAML to JSON: yaml: line 7: mapping values"
            ),
            Some(("app/templates/cm.yaml".into(), None, None))
        );
        assert_eq!(at("Error: values don't meet the specifications"), None);
        // Another chart's name inside a word is not a place.
        assert_eq!(at("Error: myapp/templates/x.yaml:3"), None);
    }

    /// helm 3's and 4's own errors, recorded by scripts/record-helm-errors.sh: each that
    /// names a template of the chart is placed at that template, line and column.
    #[test]
    fn recorded_helm_errors_are_placed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/errors");
        let mut placed = 0;
        for case in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = case.file_name().to_string_lossy().into_owned();
            for v in ["v3", "v4"] {
                let Ok(stderr) =
                    std::fs::read_to_string(case.path().join(format!("expected.stderr.{v}")))
                else {
                    continue;
                };
                let at = error_at(&stderr, &name);
                let names = stderr.contains(&format!("{name}/templates/"))
                    || stderr.contains(&format!("{name}/charts/"));
                assert_eq!(at.is_some(), names, "{name} {v}: {stderr}");
                let Some(at) = at else { continue };
                assert!(
                    case.path()
                        .join(at.source.strip_prefix(&format!("{name}/")).unwrap())
                        .is_file(),
                    "{name} {v}: {at:?}"
                );
                // Only a rendered document's YAML error has no template line.
                assert_eq!(
                    at.line.is_none(),
                    stderr.contains("YAML parse error on"),
                    "{name} {v}: {at:?}"
                );
                placed += 1;
            }
        }
        assert!(placed >= 16, "{placed} recorded errors placed");
    }

    #[test]
    fn schema_errors_name_the_value() {
        let h4 = "Error: values don't meet the specifications of the schema(s) in the following chart(s):\nschema:\n- at '/port': got string, want integer\n";
        assert_eq!(schema_path(h4), Some(vec!["port".to_owned()]));
        let h3 = "Error: values don't meet the specifications of the schema(s) in the following chart(s):\nschema:\n- db.port: Invalid type. Expected: integer, given: string\n";
        assert_eq!(
            schema_path(h3),
            Some(vec!["db".to_owned(), "port".to_owned()])
        );
        let root = "Error: values don't meet the specifications of the schema(s) in the following chart(s):\nx:\n- (root): name is required\n";
        assert_eq!(schema_path(root), Some(vec![]));
        assert_eq!(schema_path("Error: other"), None);
    }

    #[test]
    fn the_error_is_one_line_without_the_footer() {
        assert_eq!(
            clean_error("Error: a\n  b:\n    c\nUse --debug flag to render out invalid YAML\n"),
            "a b: c"
        );
    }
}
