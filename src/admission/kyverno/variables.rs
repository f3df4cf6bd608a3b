//! `{{ }}` variables (`pkg/engine/variables/vars.go`): each is a JMESPath expression over
//! the request (`request.object`, `request.oldObject`, `request.operation`,
//! `request.namespace`, `request.name`, `request.kind`) and the `foreach` element
//! (`element`, `elementIndex`, and their numbered forms when loops nest). A string that is
//! exactly one variable becomes the variable's value, of any type; otherwise each variable
//! is replaced by its text (JSON for non-strings). `\{{` escapes a variable.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::jmespath::{self, Ast};

static VARIABLES: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})").ok());

/// Substitutions a string may trigger in turn (a value holding `{{ }}` is read again, as
/// Kyverno does); more is a loop.
const MAX_ROUNDS: usize = 16;

/// The `{{ … }}` variables of a string: (the whole `{{ … }}`, the expression inside, whether
/// it is "shallow" (`{{- … }}`, not read again)).
pub fn variables_of(s: &str) -> Vec<(String, String, bool)> {
    let Some(re) = VARIABLES.as_ref() else {
        return Vec::new();
    };
    re.captures_iter(s)
        .filter_map(|c| {
            let whole = c.get(2)?.as_str().to_owned();
            let inner = whole.replace("{{", "").replace("}}", "");
            let inner = inner.trim();
            let (inner, shallow) = match inner.strip_prefix('-') {
                Some(rest) => (rest.trim().to_owned(), true),
                None => (inner.to_owned(), false),
            };
            Some((whole, inner, shallow))
        })
        .collect()
}

/// Every string of a JSON document (keys included).
pub fn strings_of<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| strings_of(v, out)),
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k);
                strings_of(v, out);
            }
        }
        _ => {}
    }
}

/// Why a variable cannot be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

/// The data variables read, and the expressions parsed when the policies were loaded.
pub struct Context<'c> {
    /// A mapping: `request`, and `element`… inside a `foreach`.
    pub root: Value,
    pub exprs: &'c HashMap<String, Ast>,
    /// A `DELETE`: `request.object` reads `request.oldObject`.
    pub delete: bool,
}

impl Context<'_> {
    /// Evaluates one variable's expression.
    pub fn query(&self, expr: &str) -> Result<Value, Error> {
        let expr = if self.delete {
            expr.replace("request.object", "request.oldObject")
        } else {
            expr.to_owned()
        };
        let parsed;
        let ast = match self.exprs.get(&expr) {
            Some(a) => a,
            None => {
                parsed = jmespath::parse(&expr).map_err(Error)?;
                &parsed
            }
        };
        jmespath::search(ast, &self.root).map_err(|e| {
            Error(format!(
                "failed to resolve {expr}: JMESPath query failed: {e}"
            ))
        })
    }

    /// `variables.SubstituteAll` on a document.
    pub fn substitute(&self, doc: &Value) -> Result<Value, Error> {
        self.substitute_depth(doc, 0)
    }

    fn substitute_depth(&self, doc: &Value, depth: usize) -> Result<Value, Error> {
        if depth > 128 {
            return Err(Error("document nested too deeply".into()));
        }
        Ok(match doc {
            Value::String(s) => self.substitute_str(s)?,
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|v| self.substitute_depth(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, v) in m {
                    let k = match self.substitute_str(k)? {
                        Value::String(s) => s,
                        other => jmespath_text(&other),
                    };
                    out.insert(k, self.substitute_depth(v, depth + 1)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Substitutes the variables of one string.
    pub fn substitute_str(&self, s: &str) -> Result<Value, Error> {
        if !s.contains("{{") {
            return Ok(Value::String(s.to_owned()));
        }
        let mut value = s.to_owned();
        let mut vars = variables_of(&value);
        let mut rounds = 0;
        while !vars.is_empty() {
            rounds += 1;
            if rounds > MAX_ROUNDS {
                return Err(Error(format!("variables of `{s}` do not resolve")));
            }
            let mut shallow_seen = false;
            for (whole, expr, shallow) in &vars {
                let resolved = self.query(expr)?;
                if value == *whole {
                    return Ok(resolved);
                }
                let text = match &resolved {
                    Value::String(t) if *shallow => t.replace("{{", "\\{{"),
                    Value::String(t) => t.clone(),
                    other => jmespath_text(other),
                };
                value = value.replacen(whole.as_str(), &text, 1);
                shallow_seen |= *shallow;
            }
            vars = if shallow_seen {
                Vec::new()
            } else {
                variables_of(&value)
            };
        }
        Ok(Value::String(value.replace("\\{{", "{{")))
    }
}

/// A value as Go's `json.Marshal` writes it (HTML characters escaped, integral numbers
/// without a fraction).
pub fn jmespath_text(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => out.push_str(&format!("{f:.0}")),
                _ => out.push_str(&n.to_string()),
            },
            Value::String(s) => {
                let quoted = serde_json::to_string(s).unwrap_or_default();
                out.push_str(
                    &quoted
                        .replace('<', "\\u003c")
                        .replace('>', "\\u003e")
                        .replace('&', "\\u0026"),
                );
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            Value::Object(m) => {
                out.push('{');
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(&Value::String(k.clone()), out);
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
        }
    }
    let mut s = String::new();
    write(v, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(exprs: &HashMap<String, Ast>) -> Context<'_> {
        Context {
            root: json!({"request": {"operation": "CREATE", "object": {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"replicas": 3}}}}),
            exprs,
            delete: false,
        }
    }

    #[test]
    fn whole_variables_keep_their_type_embedded_ones_become_text() {
        let exprs = HashMap::new();
        let c = ctx(&exprs);
        assert_eq!(
            c.substitute_str("{{ request.object.spec.replicas }}"),
            Ok(json!(3))
        );
        assert_eq!(
            c.substitute_str("{{request.object.kind}}/{{ request.object.metadata.name }} has {{ request.object.spec }}"),
            Ok(json!("Pod/p has {\"replicas\":3}"))
        );
        assert_eq!(
            c.substitute_str("\\{{ not.a.variable }}"),
            Ok(json!("{{ not.a.variable }}"))
        );
        assert!(
            c.substitute_str("{{ request.object.metadata.labels.app }}")
                .is_err()
        );
        assert_eq!(
            c.substitute_str("{{ request.object.metadata.labels.app || 'none' }}"),
            Ok(json!("none"))
        );
    }

    #[test]
    fn variables_are_found_with_nested_braces() {
        let v = variables_of("a {{ x.{a: b} }} b {{- y }}");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].1, "x.{a: b}");
        assert!(v[1].2);
    }
}
