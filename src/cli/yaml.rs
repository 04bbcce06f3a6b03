//! `-o yaml`: the output as az writes it with PyYAML's `safe_dump(default_flow_style=False,
//! allow_unicode=True)`: block style, keys sorted, a list under a key not indented, `{}` and
//! `[]` for empty ones.
//!
//! A small emitter rather than a crate: the output is JSON (null, bool, number, string, list,
//! map), and what matters is quoting. A YAML 1.1 reader (PyYAML, what az users parse with)
//! takes a plain `2027-12-31`, `yes`, `off`, `0777` or `1:20` as a date, a bool or a number;
//! the libyaml-based crates (serde_yaml's forks) quote by YAML 1.2's rules and leave such
//! strings plain. So a string stays plain only when it cannot read as anything else in either
//! version; otherwise it is single-quoted, or double-quoted with escapes when it holds a line
//! break or a control character.

use serde_json::Value;

/// The YAML text of `value`, ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

/// A scalar or an empty collection, on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// Whether a value is written on the line of its key or dash.
fn is_inline(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => true,
    }
}

fn mapping(map: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (i, (key, value)) in map.iter().enumerate() {
        // The first key of a mapping inside a list item follows its dash.
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&pad);
        }
        out.push_str(&string(key));
        out.push(':');
        match value {
            v if is_inline(v) => {
                out.push(' ');
                out.push_str(&inline(v));
                out.push('\n');
            }
            Value::Object(inner) => {
                out.push('\n');
                mapping(inner, indent + 2, out);
            }
            Value::Array(items) => {
                // PyYAML writes a list under a key at the key's own indentation.
                out.push('\n');
                sequence(items, indent, out);
            }
            _ => {}
        }
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&pad);
        }
        out.push_str("- ");
        match item {
            v if is_inline(v) => {
                out.push_str(&inline(v));
                out.push('\n');
            }
            Value::Object(map) => mapping(map, indent + 2, out),
            Value::Array(inner) => sequence(inner, indent + 2, out),
            _ => {}
        }
    }
}

/// Words YAML 1.1 or 1.2 reads as a bool or a null.
const KEYWORDS: &[&str] = &[
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
];

/// A string as a plain, single-quoted or double-quoted scalar.
fn string(s: &str) -> String {
    if s.chars().any(|c| c.is_control() || c == '\u{feff}') {
        return double_quoted(s);
    }
    if plain_is_safe(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Whether `s` written plainly reads back as the same string in YAML 1.1 and 1.2.
fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let last = s.chars().last().unwrap_or(first);
    // Numbers, dates, times and sexagesimals all start with a digit, a sign or a dot.
    if first.is_ascii_digit() || "+-.".contains(first) {
        return false;
    }
    // Indicators that start another kind of node, and surrounding blanks that plain
    // scalars lose.
    if "?:,[]{}#&*!|>'\"%@`=<\\".contains(first) || first == ' ' || last == ' ' {
        return false;
    }
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s)) {
        return false;
    }
    // `: ` starts a mapping value and ` #` a comment; a trailing `:` reads as a key; flow
    // indicators are kept out so that the text also reads inside a flow collection.
    !(s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains(['[', ']', '{', '}', ','])
        || s.contains(['\t', '\n', '\r']))
}

/// A double-quoted scalar with YAML's escapes.
fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_as_pyyaml_writes_it() {
        let v = json!({
            "b": [1, "two", null, true, {"k": "v", "l": [1]}, [], {}],
            "a": {"x": "1", "y": "yes", "z": "", "w": "2027-12-31", "u": "plain text"},
            "c": "it's: here\nnext"
        });
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "a:\n  u: plain text\n  w: '2027-12-31'\n  x: '1'\n  'y': 'yes'\n  z: ''\nb:\n- 1\n\
             - two\n- null\n- true\n- k: v\n  l:\n  - 1\n- []\n- {}\nc: \"it's: here\\nnext\"\n"
        );
        assert_eq!(to_yaml(&json!([[1, 2], "x"])), "- - 1\n  - 2\n- x\n");
        assert_eq!(to_yaml(&json!("d")), "d\n");
        assert_eq!(to_yaml(&json!({})), "{}\n");
    }

    #[test]
    fn strings_that_read_as_other_types_are_quoted() {
        for s in [
            "", "0777", "1:20", "-1", ".5", "on", "Off", "NULL", "~", "key: v", "a #b", "x:",
            "@at", "*ref", "&anchor", "!tag", " lead", "trail ", "=", "<<",
        ] {
            assert!(!plain_is_safe(s), "{s:?} would not read back");
        }
        for s in [
            "/subscriptions/x/resourceGroups/rg",
            "Microsoft.Compute/disks",
            "westus2",
        ] {
            assert!(plain_is_safe(s), "{s:?}");
        }
    }
}
