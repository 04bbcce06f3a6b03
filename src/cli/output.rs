//! Output as az prints it: `--query` (JMESPath) first, then
//! `-o json|jsonc|yaml|yamlc|tsv|table|none`.

use serde_json::Value;

use crate::error::{Error, Result};

/// Output formats az offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Pretty JSON with sorted keys.
    Json,
    /// Same as json (az colours it; ssefs does not).
    Jsonc,
    /// YAML, as az writes it (block style, keys sorted).
    Yaml,
    /// Same as yaml (az colours it on a terminal; ssefs does not).
    Yamlc,
    /// Tab-separated values: one line per list element, scalar fields only, no headers.
    Tsv,
    /// A table with headers.
    Table,
    /// Nothing.
    None,
}

/// Applies the query and formats the result; a null result prints nothing.
pub fn render(value: &Value, query: Option<&str>, format: OutputFormat) -> Result<String> {
    let value = match query {
        Some(q) => apply_query(value, q)?,
        None => value.clone(),
    };
    if value.is_null() {
        return Ok(String::new());
    }
    Ok(match format {
        OutputFormat::Json | OutputFormat::Jsonc => {
            let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
            s.push('\n');
            s
        }
        OutputFormat::Yaml | OutputFormat::Yamlc => super::yaml::to_yaml(&value),
        OutputFormat::Tsv => tsv(&value),
        OutputFormat::Table => table(&value),
        OutputFormat::None => String::new(),
    })
}

/// Evaluates a JMESPath expression against the output.
pub fn apply_query(value: &Value, query: &str) -> Result<Value> {
    let expr = jmespath::compile(query)
        .map_err(|e| Error::invalid(format!("--query '{query}' is not valid JMESPath: {e}")))?;
    let result = expr
        .search(value)
        .map_err(|e| Error::invalid(format!("--query '{query}' failed: {e}")))?;
    serde_json::to_value(&*result).map_err(|e| Error::invalid(format!("--query result: {e}")))
}

/// A scalar as az's tsv writes it (Python's str(): True/False, empty for null).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// One tsv line: an object's scalar fields in key order, a list's scalars, or a scalar.
fn tsv_line(v: &Value) -> String {
    match v {
        Value::Object(map) => map
            .values()
            .filter_map(scalar)
            .collect::<Vec<_>>()
            .join("\t"),
        Value::Array(items) => items
            .iter()
            .filter_map(scalar)
            .collect::<Vec<_>>()
            .join("\t"),
        other => scalar(other).unwrap_or_default(),
    }
}

fn tsv(v: &Value) -> String {
    let lines: Vec<String> = match v {
        Value::Array(items) => items.iter().map(tsv_line).collect(),
        other => vec![tsv_line(other)],
    };
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn header(key: &str) -> String {
    let mut c = key.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn table(v: &Value) -> String {
    let rows: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut columns: Vec<String> = Vec::new();
    for row in &rows {
        if let Value::Object(map) = row {
            for (k, val) in map {
                if scalar(val).is_some() && !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| match row {
            Value::Object(map) => columns
                .iter()
                .map(|c| map.get(c).and_then(scalar).unwrap_or_default())
                .collect(),
            other => vec![scalar(other).unwrap_or_default()],
        })
        .collect();
    let heads: Vec<String> = if columns.is_empty() {
        vec!["Result".into()]
    } else {
        columns.iter().map(|c| header(c)).collect()
    };
    let widths: Vec<usize> = (0..heads.len())
        .map(|i| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([heads[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |vals: &[String]| -> String {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(&heads)];
    out.push(line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    out.extend(cells.iter().map(|r| line(r)));
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tsv_of_a_list_query_prints_the_bare_value() {
        let v = json!({"id": "/subscriptions/s/x", "enc": {"type": "T"}});
        assert_eq!(
            render(&v, Some("[id]"), OutputFormat::Tsv).unwrap(),
            "/subscriptions/s/x\n"
        );
        assert_eq!(
            render(&v, Some("enc.type"), OutputFormat::Tsv).unwrap(),
            "T\n"
        );
        assert_eq!(
            render(
                &json!({"a": true, "b": null, "c": {"x": 1}}),
                None,
                OutputFormat::Tsv
            )
            .unwrap(),
            "True\t\n"
        );
    }

    #[test]
    fn json_is_sorted_and_null_prints_nothing() {
        let v = json!({"b": 1, "a": 2});
        assert!(
            render(&v, None, OutputFormat::Json).unwrap().find("\"a\"")
                < render(&v, None, OutputFormat::Json).unwrap().find("\"b\"")
        );
        assert_eq!(render(&Value::Null, None, OutputFormat::Json).unwrap(), "");
        assert!(render(&v, Some("[[["), OutputFormat::Json).is_err());
    }

    #[test]
    fn yaml_round_trips_and_sorts_keys() {
        let v = json!({"b": [1, "two", null, true], "a": {"x": "1", "y": "yes", "z": ""}});
        let y = render(&v, None, OutputFormat::Yaml).unwrap();
        assert!(y.starts_with("a:\n"), "{y}");
        let back: Value = serde_norway::from_str(&y).unwrap();
        assert_eq!(back, v);
        assert_eq!(render(&v, None, OutputFormat::Yamlc).unwrap(), y);
    }

    #[test]
    fn table_has_headers() {
        let v = json!([{"name": "d1", "size": 1}, {"name": "d2", "size": 2}]);
        let t = render(&v, None, OutputFormat::Table).unwrap();
        assert!(t.starts_with("Name  Size\n----  ----\nd1"), "{t}");
    }
}
