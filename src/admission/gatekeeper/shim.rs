//! Rego that OPA reads one way and regorus 0.14 another, said so that both read it as OPA
//! does, before the template is compiled. Each rewrite keeps the meaning OPA gives the text:
//!
//! - a rule with several bodies (`violation[x] { A } { B }`, `f(x) = y { A } { B }`) is OPA's
//!   shorthand for one rule per body; regorus refuses it (`else cannot be used with set
//!   rules`). Each further body gets the head again.
//! - in a body, a line that starts with `(` after a line that ends an expression is a new
//!   expression for OPA; regorus reads it as a call of the line before. A `;` (the
//!   separator both accept) ends the line before.
//! - OPA's compiler binds the references inside an expression to variables before it
//!   (`rewriteDynamics`: `not f(x.y)` runs as `__local0__ = x.y; not f(__local0__)`), so a
//!   negation whose argument or index is undefined leaves the body undefined; regorus
//!   evaluates the negation with it undefined, which is true. A `not` statement on one line
//!   (a call, a comparison or a reference) gets its referenced arguments and indexes bound
//!   the same way on the lines before it.
//! - `sprintf` with fewer arguments than its format has verbs prints `%!v(MISSING)` for
//!   each verb left over (Go's `fmt`, so OPA and gator); regorus refuses the call, and the
//!   rule never yields its violation. Where the format is a string literal and the arguments
//!   an array literal, each verb left over is written as the text Go prints for it.
//!
//! Strings, raw strings and comments are never touched (but for that `sprintf` format),
//! and only these shapes are.

/// Keywords after which an expression goes on (a `(` on the next line continues it).
const CONTINUING: &[&str] = &[
    "in", "not", "with", "as", "else", "some", "every", "if", "contains", "default",
];

/// `text` as regorus reads it the way OPA does.
pub(super) fn for_regorus(text: &str) -> String {
    missing_sprintf_arguments(&bind_negated_references(&split_bodies_and_lines(text)))
}

/// Binds, before each one-line `not` statement, the references among its call arguments,
/// comparison operands and reference indexes to fresh variables, as OPA's
/// `rewriteDynamics` does.
fn bind_negated_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut raw = false;
    let mut fresh = 0usize;
    for line in text.split_inclusive('\n') {
        let starts_raw = raw;
        // Track raw strings (the only strings that span lines).
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'`' => raw = !raw,
                b'"' if !raw => i = string_end(b, i) - 1,
                b'#' if !raw => break,
                _ => {}
            }
            i += 1;
        }
        let code = line.trim_start_matches([' ', '\t']);
        let indent = &line[..line.len() - code.len()];
        let bound = (!starts_raw && !raw)
            .then(|| code.strip_prefix("not "))
            .flatten()
            .and_then(|negated| negated_references(negated.trim_end()));
        match bound {
            Some((rewritten, refs)) if !refs.is_empty() => {
                let mut negated = rewritten;
                for r in refs {
                    let var = format!("__kubegate_bound{fresh}");
                    fresh += 1;
                    out.push_str(indent);
                    out.push_str(&format!("{var} := {r}\n"));
                    negated = negated.replacen(&format!("\u{0}{r}\u{0}"), &var, 1);
                }
                out.push_str(indent);
                out.push_str("not ");
                out.push_str(&negated);
                out.push('\n');
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The negated expression `expr` with each reference OPA binds before it marked
/// (`\0ref\0`), and those references in order; `None` for a shape this does not follow
/// (a `with`, a comment, several expressions, arithmetic, a line that does not end it).
fn negated_references(expr: &str) -> Option<(String, Vec<String>)> {
    let parts = top_level(expr)?;
    if parts.iter().any(|p| matches!(p, Part::Other)) {
        return None;
    }
    let mut refs = Vec::new();
    let mut marked = String::with_capacity(expr.len() + 8);
    let mark = |term: &str, marked: &mut String, refs: &mut Vec<String>| {
        if is_reference(term) {
            marked.push('\0');
            marked.push_str(term);
            marked.push('\0');
            refs.push(term.to_owned());
        } else {
            marked.push_str(term);
        }
    };
    match parts.as_slice() {
        // A call: `f(a, b.c)`, `lib.f(x.y)`.
        [Part::Term(callee), Part::Group(b'(', args)] if is_path(callee) => {
            marked.push_str(callee);
            marked.push('(');
            let args = split_commas(args)?;
            for (k, arg) in args.iter().enumerate() {
                if k > 0 {
                    marked.push(',');
                }
                let t = arg.trim();
                marked.push_str(&arg[..arg.len() - arg.trim_start().len()]);
                mark(t, &mut marked, &mut refs);
                marked.push_str(&arg[arg.trim_end().len()..]);
            }
            marked.push(')');
        }
        // A comparison: `a.b == c`.
        [Part::Term(lhs), Part::Op(op), Part::Term(rhs)] => {
            mark(lhs, &mut marked, &mut refs);
            marked.push(' ');
            marked.push_str(op);
            marked.push(' ');
            mark(rhs, &mut marked, &mut refs);
        }
        // A reference: `data.x[a.b][c]`: its indexes that are references.
        [Part::Term(t)] => {
            let (head, indexes) = reference_parts(t)?;
            marked.push_str(head);
            for index in indexes {
                marked.push('[');
                mark(index.trim(), &mut marked, &mut refs);
                marked.push(']');
            }
        }
        _ => return None,
    }
    Some((marked, refs))
}

/// A piece of an expression at its top level.
enum Part<'a> {
    /// A term: a name, a reference with its indexes, a literal.
    Term(&'a str),
    /// A bracketed group right after a term (a call's arguments).
    Group(u8, &'a str),
    /// A comparison operator.
    Op(&'a str),
    /// Anything else (arithmetic, `with`, `;`, a comment).
    Other,
}

fn top_level(expr: &str) -> Option<Vec<Part<'_>>> {
    let b = expr.as_bytes();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'"' || c.is_ascii_digit() {
            // A term: a name or literal followed by `.name` and `[...]` groups.
            let start = i;
            if c == b'"' {
                i = string_end(b, i);
            } else {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_.".contains(&b[i])) {
                    i += 1;
                }
            }
            while i < b.len() && (b[i] == b'[' || b[i] == b'.') {
                if b[i] == b'.' {
                    i += 1;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                } else {
                    i = group_end(b, i)?;
                }
            }
            let term = expr.get(start..i)?;
            if term == "with" {
                parts.push(Part::Other);
            } else {
                parts.push(Part::Term(term));
            }
            if b.get(i) == Some(&b'(') {
                let end = group_end(b, i)?;
                parts.push(Part::Group(b'(', expr.get(i + 1..end - 1)?));
                i = end;
            }
        } else if let Some(op) = ["==", "!=", "<=", ">=", "<", ">"]
            .into_iter()
            .find(|op| expr[i..].starts_with(op))
        {
            parts.push(Part::Op(op));
            i += op.len();
        } else {
            parts.push(Part::Other);
            i += 1;
        }
    }
    Some(parts)
}

/// Just past the bracket closing the one that opens at `i`; strings inside are skipped.
fn group_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = string_end(b, j);
                continue;
            }
            b'`' | b'#' => return None,
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// `args` split at its top-level commas.
fn split_commas(args: &str) -> Option<Vec<&str>> {
    let b = args.as_bytes();
    let (mut out, mut start, mut i) = (Vec::new(), 0, 0);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = string_end(b, i);
                continue;
            }
            b'(' | b'[' | b'{' => {
                i = group_end(b, i)?;
                continue;
            }
            b',' => {
                out.push(args.get(start..i)?);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if !args.trim().is_empty() {
        out.push(args.get(start..)?);
    }
    Some(out)
}

/// `a`, `a.b.c`: a name and its dotted fields.
fn is_path(t: &str) -> bool {
    !t.is_empty()
        && t.split('.').all(|p| {
            p.bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                && p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        })
}

/// A reference OPA binds: a name with at least one field or index after it, with no
/// wildcard, call or iteration inside (`x.y`, `input.parameters[field]`).
fn is_reference(t: &str) -> bool {
    let Some((head, indexes)) = reference_parts(t) else {
        return false;
    };
    (head.contains('.') || !indexes.is_empty())
        && is_path(head)
        && !head.split('.').any(|p| p == "_")
        && indexes.iter().all(|i| {
            let i = i.trim();
            (i.starts_with('"') && i.ends_with('"') && i.len() >= 2)
                || (is_path(i) && i != "_" && !i.contains('.'))
                || i.bytes().all(|c| c.is_ascii_digit())
        })
}

/// A reference's dotted head and the contents of its `[...]` indexes, in order.
fn reference_parts(t: &str) -> Option<(&str, Vec<&str>)> {
    let b = t.as_bytes();
    let head_end = t.find('[').unwrap_or(t.len());
    let head = &t[..head_end];
    if !is_path(head) {
        return None;
    }
    let mut indexes = Vec::new();
    let mut i = head_end;
    while i < b.len() {
        if b[i] != b'[' {
            return None;
        }
        let end = group_end(b, i)?;
        indexes.push(t.get(i + 1..end - 1)?);
        i = end;
    }
    Some((head, indexes))
}

fn split_bodies_and_lines(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    // Open brackets, innermost last.
    let mut stack: Vec<u8> = Vec::new();
    // The last byte of code (outside strings and comments), and where its line starts.
    let mut last: Option<u8> = None;
    let mut last_word_start = 0usize;
    let mut line_start = 0usize;
    // The head of the top-level rule whose body is open or just closed.
    let mut head: Option<&str> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'`' => {
                let quote = c;
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if quote == b'"' && bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                last = Some(b'"');
                i += 1;
                continue;
            }
            b'\n' => {
                if stack.last() == Some(&b'{')
                    && last.is_some_and(|l| l.is_ascii_alphanumeric() || b"_])}\"".contains(&l))
                    && !text
                        .get(last_word_start..i)
                        .is_some_and(|w| CONTINUING.contains(&w.trim_end()))
                    && text[i + 1..]
                        .trim_start_matches([' ', '\t'])
                        .starts_with('(')
                {
                    out.push_str(&text[copied..i]);
                    out.push(';');
                    copied = i;
                }
                line_start = i + 1;
            }
            b'{' if stack.is_empty() => {
                if last == Some(b'}') {
                    // Another body of the same rule.
                    if let Some(h) = head {
                        out.push_str(&text[copied..i]);
                        out.push('\n');
                        out.push_str(h);
                        out.push(' ');
                        copied = i;
                    }
                } else {
                    let h = text[line_start..i].trim();
                    head = (!h.is_empty()).then_some(h);
                }
                stack.push(c);
            }
            b'{' | b'[' | b'(' => stack.push(c),
            b'}' | b']' | b')' => {
                stack.pop();
            }
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            if !(last.is_some_and(|l| l.is_ascii_alphanumeric() || l == b'_')
                && (c.is_ascii_alphanumeric() || c == b'_'))
            {
                last_word_start = i;
            }
            last = Some(c);
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// Writes out, in each `sprintf("format", [args])` with fewer args than verbs, the verbs
/// left over as Go prints them (`%!v(MISSING)`, escaped as `%%`).
fn missing_sprintf_arguments(text: &str) -> String {
    const CALL: &str = "sprintf(";
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'`' => i = string_end(bytes, i),
            b's' if text[i..].starts_with(CALL)
                && !(i > 0
                    && (bytes[i - 1].is_ascii_alphanumeric() || b"_.".contains(&bytes[i - 1]))) =>
            {
                let start = i + CALL.len();
                if let Some((format, fixed)) = sprintf_call(text, start) {
                    out.push_str(&text[copied..format.start]);
                    out.push_str(&fixed);
                    copied = format.end;
                    i = format.end;
                } else {
                    i = start;
                }
            }
            _ => i += 1,
        }
    }
    if copied == 0 {
        return text.to_owned();
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the string literal opening at `i` ends (just past its closing quote).
fn string_end(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() && bytes[j] != quote {
        if quote == b'"' && bytes[j] == b'\\' {
            j += 1;
        }
        j += 1;
    }
    j + 1
}

/// The arguments of a `sprintf(` whose arguments start at `start`: the range of its format
/// literal and that literal with the verbs left over written out, when the format is a
/// `"..."` literal, the arguments an array literal, and there are fewer of them.
fn sprintf_call(text: &str, start: usize) -> Option<(std::ops::Range<usize>, String)> {
    let bytes = text.as_bytes();
    let skip = |mut j: usize| {
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    let f = skip(start);
    if bytes.get(f) != Some(&b'"') {
        return None;
    }
    let f_end = string_end(bytes, f).min(bytes.len());
    let comma = skip(f_end);
    if bytes.get(comma) != Some(&b',') {
        return None;
    }
    let open = skip(comma + 1);
    if bytes.get(open) != Some(&b'[') {
        return None;
    }
    // Count the array's elements: commas at its own depth, and whether it holds any.
    let (mut depth, mut args, mut any, mut j) = (0usize, 0usize, false, open + 1);
    loop {
        match *bytes.get(j)? {
            b'"' | b'`' => {
                j = string_end(bytes, j);
                any = true;
                continue;
            }
            b'[' | b'{' | b'(' => depth += 1,
            b']' | b'}' | b')' if depth > 0 => depth -= 1,
            b']' => break,
            b')' | b'}' => return None,
            b',' if depth == 0 => args += 1,
            b'#' => return None,
            _ => {}
        }
        if !(bytes[j].is_ascii_whitespace() || depth == 0 && bytes[j] == b',') {
            any = true;
        }
        j += 1;
    }
    // A trailing comma adds no element.
    let inner = text[open + 1..j].trim_end();
    let args = if !any {
        0
    } else if inner.ends_with(',') {
        args
    } else {
        args + 1
    };
    let fixed = missing_verbs(&text[f..f_end], args)?;
    Some((f..f_end, fixed))
}

/// `literal` (a quoted format) with every verb after the first `args` written as Go
/// prints a verb without its argument; `None` when it has no more verbs than `args`, or
/// uses what this does not follow (`*` widths, explicit argument indexes).
fn missing_verbs(literal: &str, args: usize) -> Option<String> {
    let b = literal.as_bytes();
    let mut out = String::with_capacity(literal.len() + 16);
    let (mut verbs, mut copied, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let at = i;
        i += 1;
        while i < b.len() && b"+-# 0".contains(&b[i]) {
            i += 1;
        }
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        match b.get(i) {
            Some(b'%') if i == at + 1 => {}
            Some(b'*' | b'[') | None => return None,
            Some(c) if c.is_ascii_alphabetic() => {
                if verbs >= args {
                    out.push_str(&literal[copied..at]);
                    out.push_str("%%!");
                    out.push(char::from(*c));
                    out.push_str("(MISSING)");
                    copied = i + 1;
                }
                verbs += 1;
            }
            Some(_) => return None,
        }
        i += 1;
    }
    (verbs > args).then(|| {
        out.push_str(&literal[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::for_regorus;

    #[test]
    fn several_bodies_become_several_rules() {
        let text = "package p\n\nviolation[{\"msg\": m}] {\n  m := \"a\"\n} {\n  m := \"b\"\n}\n";
        assert_eq!(
            for_regorus(text),
            "package p\n\nviolation[{\"msg\": m}] {\n  m := \"a\"\n} \nviolation[{\"msg\": m}] {\n  m := \"b\"\n}\n"
        );
        let f = "f(x) = y {\n  x == 1\n  y := 2\n} {\n  y := 3\n}\n";
        assert_eq!(
            for_regorus(f),
            "f(x) = y {\n  x == 1\n  y := 2\n} \nf(x) = y {\n  y := 3\n}\n"
        );
        // `else` is not another body; braces in strings and comments are not code.
        for same in [
            "r = 1 {\n  false\n} else = 2 {\n  true\n}\n",
            "r {\n  x := \"} {\"\n  # } {\n}\n",
        ] {
            assert_eq!(for_regorus(same), same);
        }
    }

    #[test]
    fn a_line_that_starts_with_a_parenthesis_is_a_new_expression() {
        let text = "r {\n  input.a\n  (input.b - 1) >= 2\n}\n";
        assert_eq!(
            for_regorus(text),
            "r {\n  input.a;\n  (input.b - 1) >= 2\n}\n"
        );
        // Inside a call, after an operator or a continuing keyword, it goes on.
        for same in [
            "r {\n  f(a,\n  (b))\n}\n",
            "r {\n  x := 1 +\n  (2)\n}\n",
            "r {\n  not\n  (x)\n}\n",
            "x := [\n  a\n  (b)\n]\n",
        ] {
            assert_eq!(for_regorus(same), same);
        }
    }

    #[test]
    fn text_that_is_not_rego_is_left_to_the_compiler() {
        for text in [
            "r {\n  é\n  (x)\n}\n",
            "r {\n  xé\"s\"\n  (x)\n}\n",
            "r { \"open",
            "} {",
            "{\n(",
            "é{é}é{é",
            "é sprintf(\"é%vé\", [é])",
            "sprintf(\"é%v",
        ] {
            // No panic; what it gives is the compiler's to refuse.
            let _ = for_regorus(text);
        }
    }

    #[test]
    fn a_verb_without_its_argument_prints_as_in_go() {
        // K8sHorizontalPodAutoscaler's message: six verbs, five arguments.
        let text = "m := sprintf(\"a %v b %v. c: %v\", [x, y])\n";
        assert_eq!(
            for_regorus(text),
            "m := sprintf(\"a %v b %v. c: %%!v(MISSING)\", [x, y])\n"
        );
        assert_eq!(
            for_regorus("é sprintf(\"é%vé\", [])"),
            "é sprintf(\"é%%!v(MISSING)é\", [])"
        );
        assert_eq!(
            for_regorus("m := sprintf(\"%d %5.2f\", [])"),
            "m := sprintf(\"%%!d(MISSING) %%!f(MISSING)\", [])"
        );
        // Arguments holding commas, brackets and strings count once each.
        assert_eq!(
            for_regorus("sprintf(\"%v %v %v\", [f(a, b), [1, 2], \"x,]\"])"),
            "sprintf(\"%v %v %v\", [f(a, b), [1, 2], \"x,]\"])"
        );
        // Left alone: enough arguments, `%%`, a format or arguments that are not literals,
        // a longer name, a call in a comment or a string.
        for same in [
            "sprintf(\"%v%%\", [a])",
            "sprintf(\"%v %v\", [a, b,])",
            "sprintf(f, [a])",
            "sprintf(\"%v %v\", args)",
            "my_sprintf(\"%v\", [])",
            "x.sprintf(\"%v\", [])",
            "# sprintf(\"%v\", [])",
            "s := \"sprintf(\\\"%v\\\", [])\"",
            "sprintf(\"%*v\", [])",
            "sprintf(\"%v",
            "sprintf(\"%v\", [",
        ] {
            assert_eq!(for_regorus(same), same, "{same}");
        }
    }

    #[test]
    fn a_negation_binds_its_references_first_as_opa_does() {
        let run = |body: &str| for_regorus(&format!("r {{\n  x := 1\n  {body}\n}}\n"));
        // The library's K8sPSPAllowedUsers: an undefined `params.ranges` leaves the body
        // undefined in OPA, not the negation true.
        assert_eq!(
            run("not accept_value(rule, provided_value, params.ranges)"),
            "r {\n  x := 1\n  __kubegate_bound0 := params.ranges\n  not accept_value(rule, provided_value, __kubegate_bound0)\n}\n"
        );
        // K8sHorizontalPodAutoscaler: the indexes of a reference.
        assert_eq!(
            run("not data.inventory.namespace[hpa.metadata.namespace][hpa.spec.kind][\"x\"]"),
            "r {\n  x := 1\n  __kubegate_bound0 := hpa.metadata.namespace\n  __kubegate_bound1 := hpa.spec.kind\n  not data.inventory.namespace[__kubegate_bound0][__kubegate_bound1][\"x\"]\n}\n"
        );
        // A comparison is a call too; a library function's name is not an argument.
        assert_eq!(
            run("not input.review.object.kind == \"Pod\""),
            "r {\n  x := 1\n  __kubegate_bound0 := input.review.object.kind\n  not __kubegate_bound0 == \"Pod\"\n}\n"
        );
        assert_eq!(
            run("not lib.is_exempt(input.parameters[field], c)"),
            "r {\n  x := 1\n  __kubegate_bound0 := input.parameters[field]\n  not lib.is_exempt(__kubegate_bound0, c)\n}\n"
        );
        // Left alone: nothing to bind, a whole reference, wildcards and iteration, calls
        // inside, `with`, arithmetic, a comment, a statement over several lines, raw strings.
        for same in [
            "not f(x, \"a.b\", 1)",
            "not input.review.object.spec.hostNetwork",
            "not input.a[_].b",
            "not f(input.a[_])",
            "not f(g(x.y))",
            "not f(x.y) with input as {}",
            "not x.y + 1 == 2",
            "not f(x.y) # why",
            "not f(x.y,\n    z)",
            "m := `\nnot f(x.y)\n`",
        ] {
            let text = format!("r {{\n  x := 1\n  {same}\n}}\n");
            assert_eq!(for_regorus(&text), text, "{same}");
        }
    }
}
