//! The merge-request change summary ([`crate::changes`]) as GitHub-flavoured Markdown, for a
//! pull-request comment or a job summary.
//!
//! Every name, namespace, kind and path comes from the manifests of the merge request, so
//! none of it may become markup: table cells go through [`escape`], everything else is shown
//! in code spans ([`code`]), which render their content literally.

use std::io::{self, Write};

use crate::changes::{ChangeSummary, Direction, GrantChange, MAX_RBAC_WORK, ObjectChange, Scope};
use crate::finding::ObjectRef;

/// `--format markdown`: the findings as in the GitHub job summary (counts, per rule, every
/// finding linked when `GITHUB_*` variables say where), then the change summary.
pub fn render(cx: &super::Context<'_>, out: &mut dyn Write) -> io::Result<()> {
    let links = super::github::Links::from_env();
    out.write_all(super::github::summary(cx, links.as_ref(), usize::MAX).as_bytes())?;
    match cx.changes {
        Some(changes) => render_changes(changes, out)?,
        None => writeln!(
            out,
            "No merge-request base is known, so there is no change summary: pass `--base REF`."
        )?,
    }
    render_fetched(&cx.outcome.fetched, out)
}

/// What the run fetched from the network (`--allow-host`), a row each; nothing when none.
pub fn render_fetched(
    fetched: &[crate::fetch::Fetch],
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    if fetched.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n## Fetched from the network\n")?;
    writeln!(out, "| What | Outcome | Bytes | Detail |")?;
    writeln!(out, "|---|---|---:|---|")?;
    for f in fetched {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            escape(&f.url),
            f.outcome,
            f.bytes,
            escape(f.detail.as_deref().unwrap_or(""))
        )?;
    }
    Ok(())
}

/// Writes the summary: a heading, the counts, a table of the objects added, changed and
/// removed, then the RBAC permissions gained and lost, one sentence each.
pub fn render_changes(summary: &ChangeSummary, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    writeln!(out, "## Changes in this merge request\n")?;
    let (added, changed, removed) = (
        summary.added.len(),
        summary.changed.len(),
        summary.removed.len(),
    );
    if added + changed + removed == 0 {
        writeln!(out, "No Kubernetes objects changed.\n")?;
        if summary.rbac.is_empty() && !summary.rbac_skipped {
            return Ok(());
        }
    } else {
        let objects = if added == 1 { "object" } else { "objects" };
        writeln!(
            out,
            "{added} {objects} added, {changed} changed, {removed} removed.\n"
        )?;
        writeln!(out, "| Change | Kind | Namespace | Name | File |")?;
        writeln!(out, "| --- | --- | --- | --- | --- |")?;
        for (label, list) in [
            ("added", &summary.added),
            ("changed", &summary.changed),
            ("removed", &summary.removed),
        ] {
            for c in list {
                row(out, label, c)?;
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "### RBAC\n")?;
    if summary.rbac_skipped {
        writeln!(
            out,
            "**RBAC permissions were not compared:** the bindings and roles of one revision \
             expand to more than {MAX_RBAC_WORK} permissions. Review them by hand."
        )?;
    } else if summary.rbac.is_empty() {
        writeln!(out, "No RBAC permission changes.")?;
    }
    for g in &summary.rbac {
        writeln!(out, "- {}", sentence(g))?;
    }
    Ok(())
}

fn row(out: &mut (impl Write + ?Sized), label: &str, c: &ObjectChange) -> io::Result<()> {
    let o = &c.object;
    let file = match &c.base_file {
        Some(from) => format!("{} (was {})", escape(&c.file), escape(from)),
        None if c.rendered => format!("{} (rendered)", escape(&c.file)),
        None => escape(&c.file),
    };
    writeln!(
        out,
        "| {label} | {} | {} | {} | {file} |",
        escape(&o.kind),
        o.namespace.as_deref().map(escape).unwrap_or_default(),
        o.name
            .as_deref()
            .map_or_else(|| "*(no name)*".to_owned(), escape),
    )
}

/// "ServiceAccount `ci/deployer` gains `get, list` on `secrets` cluster-wide via
/// ClusterRoleBinding `x` (ClusterRole `y`) in `rbac/ci.yaml`".
fn sentence(g: &GrantChange) -> String {
    let s = &g.subject;
    // Kinds other than the three Kubernetes knows are untrusted text: shown as code.
    let kind = match s.kind.as_str() {
        k @ ("User" | "Group" | "ServiceAccount") => k.to_owned(),
        k => code(k),
    };
    let who = match &s.namespace {
        Some(ns) => format!("{ns}/{}", s.name),
        None => s.name.clone(),
    };
    let change = match g.change {
        Direction::Gains => "gains",
        Direction::Loses => "loses",
    };
    let mut text = format!(
        "{kind} {} {change} {} on ",
        code(&who),
        code(&g.verbs.join(", "))
    );
    if g.non_resource_urls.is_empty() {
        text += &code(&g.resources.join(", "));
        if !g.resource_names.is_empty() {
            text += &format!(" named {}", code(&g.resource_names.join(", ")));
        }
        if g.api_groups.iter().any(|group| !group.is_empty()) {
            let groups: Vec<&str> = g
                .api_groups
                .iter()
                .map(|group| if group.is_empty() { "\"\"" } else { group })
                .collect();
            let noun = if groups.len() == 1 { "group" } else { "groups" };
            text += &format!(" in API {noun} {}", code(&groups.join(", ")));
        }
    } else {
        text += &format!(
            "non-resource URLs {}",
            code(&g.non_resource_urls.join(", "))
        );
    }
    match &g.scope {
        Scope::ClusterWide => text += " cluster-wide",
        Scope::Namespace(ns) if ns.is_empty() => text += " in the namespace it is applied to",
        Scope::Namespace(ns) => text += &format!(" in namespace {}", code(ns)),
    }
    text += &format!(
        " via {} ({}) in {}",
        reference(&g.via),
        reference(&g.role),
        code(&g.file)
    );
    text
}

/// `ClusterRoleBinding `x``: the kind and the name (the scope says the namespace).
fn reference(o: &ObjectRef) -> String {
    let name = o
        .name
        .as_deref()
        .map_or_else(|| "*(no name)*".to_owned(), code);
    format!("{} {name}", escape(&o.kind))
}

/// Control characters (line breaks included) and bidirectional controls ("Trojan Source").
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Untrusted text as inert Markdown text, for a table cell or a sentence: HTML and Markdown
/// punctuation is escaped (`|` too, so a cell stays one cell), line breaks and other control
/// characters become U+FFFD, and a WORD JOINER after every `@` keeps GitHub from turning
/// `@name` into a mention.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push_str("&#96;"),
            '@' => out.push_str("@\u{2060}"),
            '|' | '\\' | '*' | '_' | '[' | ']' | '!' | '~' | '$' | '#' | ':' => {
                out.push('\\');
                out.push(c);
            }
            c if unsafe_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Untrusted text as a code span, shown literally: fenced by one backtick more than its
/// longest run of backticks, padded with spaces when it starts or ends with a backtick or a
/// space, control characters as U+FFFD. Not for table cells (`|` would split the cell).
pub fn code(s: &str) -> String {
    if s.is_empty() {
        return "*(empty)*".to_owned();
    }
    let text: String = s
        .chars()
        .map(|c| if unsafe_char(c) { '\u{FFFD}' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let edge = |c: char| c == '`' || c == ' ';
    let pad = if text.starts_with(edge) || text.ends_with(edge) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::{Subject, objects_of, summarize};

    fn render(summary: &ChangeSummary) -> String {
        let mut out = Vec::new();
        render_changes(summary, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn object(kind: &str, namespace: Option<&str>, name: Option<&str>) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        }
    }

    fn grant(subject: Subject, change: Direction, scope: Scope) -> GrantChange {
        GrantChange {
            subject,
            change,
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec!["".into()],
            resources: vec!["secrets".into()],
            resource_names: Vec::new(),
            non_resource_urls: Vec::new(),
            scope,
            via: ObjectRef {
                api_version: "rbac.authorization.k8s.io/v1".into(),
                kind: "ClusterRoleBinding".into(),
                namespace: None,
                name: Some("x".into()),
            },
            role: ObjectRef {
                api_version: "rbac.authorization.k8s.io/v1".into(),
                kind: "ClusterRole".into(),
                namespace: None,
                name: Some("y".into()),
            },
            file: "rbac/ci.yaml".into(),
        }
    }

    fn sa(namespace: &str, name: &str) -> Subject {
        Subject {
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(namespace.into()),
        }
    }

    use crate::report::github::tests::cells;

    #[test]
    fn writes_to_a_trait_object() {
        let mut out: Vec<u8> = Vec::new();
        let dynamic: &mut dyn Write = &mut out;
        render_changes(&ChangeSummary::default(), dynamic).unwrap();
        assert!(out.starts_with(b"## Changes in this merge request\n"));
    }

    #[test]
    fn an_empty_summary_says_so() {
        assert_eq!(
            render(&ChangeSummary::default()),
            "## Changes in this merge request\n\nNo Kubernetes objects changed.\n\n"
        );
    }

    #[test]
    fn objects_and_grants() {
        let change = |kind: &str, ns: Option<&str>, name: Option<&str>, file: &str| ObjectChange {
            object: object(kind, ns, name),
            file: file.into(),
            base_file: None,
            rendered: false,
        };
        let mut moved = change("Service", Some("shop"), Some("web"), "new.yaml");
        moved.base_file = Some("old.yaml".into());
        let mut deployer = grant(sa("ci", "deployer"), Direction::Gains, Scope::ClusterWide);
        let mut apps = grant(
            Subject {
                kind: "Group".into(),
                name: "devs".into(),
                namespace: None,
            },
            Direction::Loses,
            Scope::Namespace("shop".into()),
        );
        apps.api_groups = vec!["".into(), "apps".into()];
        apps.resources = vec!["deployments".into(), "pods/exec".into()];
        apps.resource_names = vec!["web".into()];
        apps.via.kind = "RoleBinding".into();
        apps.role.kind = "Role".into();
        let mut urls = grant(
            sa("ci", "deployer"),
            Direction::Gains,
            Scope::Namespace(String::new()),
        );
        urls.resources.clear();
        urls.api_groups.clear();
        urls.non_resource_urls = vec!["/metrics".into()];
        deployer.verbs.push("watch".into());
        let summary = ChangeSummary {
            added: vec![
                change("ConfigMap", Some("shop"), Some("a"), "a.yaml"),
                change("Namespace", None, Some("shop"), "ns.yaml"),
                change("ConfigMap", None, None, "b.yaml"),
            ],
            changed: vec![moved],
            removed: vec![change("Secret", Some("shop"), Some("old"), "s.yaml")],
            rbac: vec![deployer, apps, urls],
            rbac_skipped: false,
        };
        let md = render(&summary);
        assert_eq!(
            md,
            "## Changes in this merge request\n\
             \n\
             3 objects added, 1 changed, 1 removed.\n\
             \n\
             | Change | Kind | Namespace | Name | File |\n\
             | --- | --- | --- | --- | --- |\n\
             | added | ConfigMap | shop | a | a.yaml |\n\
             | added | Namespace |  | shop | ns.yaml |\n\
             | added | ConfigMap |  | *(no name)* | b.yaml |\n\
             | changed | Service | shop | web | new.yaml (was old.yaml) |\n\
             | removed | Secret | shop | old | s.yaml |\n\
             \n\
             ### RBAC\n\
             \n\
             - ServiceAccount `ci/deployer` gains `get, list, watch` on `secrets` cluster-wide via ClusterRoleBinding `x` (ClusterRole `y`) in `rbac/ci.yaml`\n\
             - Group `devs` loses `get, list` on `deployments, pods/exec` named `web` in API groups `\"\", apps` in namespace `shop` via RoleBinding `x` (Role `y`) in `rbac/ci.yaml`\n\
             - ServiceAccount `ci/deployer` gains `get, list` on non-resource URLs `/metrics` in the namespace it is applied to via ClusterRoleBinding `x` (ClusterRole `y`) in `rbac/ci.yaml`\n"
        );

        let one = ChangeSummary {
            added: vec![change("ConfigMap", None, Some("a"), "a.yaml")],
            ..ChangeSummary::default()
        };
        let md = render(&one);
        assert!(
            md.contains("1 object added, 0 changed, 0 removed.\n"),
            "{md}"
        );
        assert!(
            md.ends_with("### RBAC\n\nNo RBAC permission changes.\n"),
            "{md}"
        );

        let cut = ChangeSummary {
            rbac_skipped: true,
            ..ChangeSummary::default()
        };
        let md = render(&cut);
        assert!(md.contains("No Kubernetes objects changed."));
        assert!(md.contains("were not compared"), "{md}");
        assert!(!md.contains("No RBAC permission changes"), "{md}");
    }

    #[test]
    fn fetched_urls_and_reasons_stay_data() {
        let fetched = [crate::fetch::Fetch {
            url: "https://x.example/<img src=x>|`@someone`".into(),
            outcome: "failed",
            bytes: 0,
            detail: Some("bad\n## forged heading | cell".into()),
        }];
        let mut out = Vec::new();
        render_fetched(&fetched, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("<img"), "{text}");
        assert!(!text.contains("\n## forged"), "{text}");
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert_eq!(
            rows[1].matches(" | ").count(),
            3,
            "one row of four cells: {text}"
        );
        let mut none = Vec::new();
        render_fetched(&[], &mut none).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn escape_makes_hostile_text_inert() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("a\\|b"), "a\\\\\\|b");
        assert_eq!(escape("`x`"), "&#96;x&#96;");
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("&lt;"), "&amp;lt;");
        assert_eq!(escape("a\nb\r\nc"), "a\u{FFFD}b\u{FFFD}\u{FFFD}c");
        assert_eq!(escape("[x](javascript:y)"), "\\[x\\](javascript\\:y)");
        assert_eq!(
            escape("**b** _i_ ~s~ # !"),
            "\\*\\*b\\*\\* \\_i\\_ \\~s\\~ \\# \\!"
        );
        assert_eq!(escape("@org/team"), "@\u{2060}org/team");
        assert_eq!(escape("\u{1b}[1m\u{202E}x"), "\u{FFFD}\\[1m\u{FFFD}x");
        assert_eq!(escape("web-1.shop"), "web-1.shop");
    }

    #[test]
    fn code_spans_hold_anything() {
        assert_eq!(code("secrets"), "`secrets`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("a``b`"), "``` a``b` ```");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code(" x "), "`  x  `");
        assert_eq!(code("<b>|[x]"), "`<b>|[x]`");
        assert_eq!(code("a\nb\u{0}"), "`a\u{FFFD}b\u{FFFD}`");
        assert_eq!(code(""), "*(empty)*");
    }

    #[test]
    fn hostile_manifests_render_inert() {
        let hostile = "a|b`c<script>x</script>";
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: \"{hostile}\\n# injected\", namespace: \"ns|x\"}}\n---\n\
             apiVersion: v1\nkind: \"K|i`n<d>\"\nmetadata: {{name: \"@team [x](y) **z**\"}}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: \"r`\"}}\n\
             rules: [{{apiGroups: [''], resources: [\"s``e|c\"], verbs: [\"get\\n- evil\"]}}]\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: \"b<i>\"}}\n\
             roleRef: {{kind: ClusterRole, name: \"r`\"}}\nsubjects: [{{kind: \"# Evil\\n\", name: \"u`\\n## x\"}}]\n"
        );
        let head = objects_of("a|b`<c>\n.yaml", &text);
        assert_eq!(head.len(), 4);
        let md = render(&summarize(&[], &head, &[]));
        // The table: every row has five cells, nothing raw.
        let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(rows.len(), 6, "{md}");
        for r in &rows {
            assert_eq!(cells(r), 5, "{r}");
        }
        // Outside code spans (checked below), no `<` at all.
        assert!(rows.iter().all(|r| !r.contains(['<', '>', '`'])), "{md}");
        assert!(
            md.contains("a\\|b&#96;c&lt;script&gt;x&lt;/script&gt;\u{FFFD}\\# injected"),
            "{md}"
        );
        assert!(
            md.contains("| @\u{2060}team \\[x\\](y) \\*\\*z\\*\\* |"),
            "{md}"
        );
        // No line break leaks: the document has exactly the lines it is built of.
        assert!(
            !md.lines()
                .any(|l| l.starts_with('#') && !l.starts_with("## Changes") && l != "### RBAC")
        );
        let bullets: Vec<&str> = md.lines().filter(|l| l.starts_with("- ")).collect();
        assert_eq!(
            bullets,
            [
                "- `# Evil\u{FFFD}` ``u`\u{FFFD}## x`` gains `get\u{FFFD}- evil` on ```s``e|c``` \
              cluster-wide via ClusterRoleBinding `b<i>` (ClusterRole `` r` ``) in \
              ``a|b`<c>\u{FFFD}.yaml``"
            ],
            "{md}"
        );
    }
}
