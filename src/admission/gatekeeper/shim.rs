//! Rego that OPA reads one way and regorus 0.14 another, said so that both read it as OPA
//! does, before the template is compiled. Each rewrite keeps the meaning OPA gives the text:
//!
//! - a rule with several bodies (`violation[x] { A } { B }`, `f(x) = y { A } { B }`) is OPA's
//!   shorthand for one rule per body; regorus refuses it (`else cannot be used with set
//!   rules`). Each further body gets the head again.
//! - in a body, a line that starts with `(` after a line that ends an expression is a new
//!   expression for OPA; regorus reads it as a call of the line before. A `;` (the
//!   separator both accept) ends the line before.
//!
//! Strings, raw strings and comments are never touched, and only these two shapes are.

/// Keywords after which an expression goes on (a `(` on the next line continues it).
const CONTINUING: &[&str] = &[
    "in", "not", "with", "as", "else", "some", "every", "if", "contains", "default",
];

/// `text` as regorus reads it the way OPA does.
pub(super) fn for_regorus(text: &str) -> String {
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
        ] {
            // No panic; what it gives is the compiler's to refuse.
            let _ = for_regorus(text);
        }
    }
}
