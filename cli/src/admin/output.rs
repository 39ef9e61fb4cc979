//! How admin commands print what they got: a table for people (the default),
//! or the API's data as JSON or YAML for scripts (`--output json|yaml`).
//!
//! Guarantees: JSON and YAML print the same value, with the API's own field
//! names (stable: scripts may rely on them), and nothing else on stdout;
//! the YAML emitter writes plain YAML 1.2 that any parser reads back as that
//! value (strings are quoted whenever they could read as something else);
//! tables align their columns by characters and print `(none)` when empty.

use serde_json::Value;

/// How a result is printed: built in, or a format a running extension adds
/// (`format-<name>` command, written by the server: `mag -o csv ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Yaml,
    Extension(String),
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(text: &str) -> Result<Format, String> {
        Ok(match text.to_ascii_lowercase().as_str() {
            "table" => Format::Table,
            "json" => Format::Json,
            "yaml" => Format::Yaml,
            other
                if !other.is_empty()
                    && other
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                Format::Extension(other.to_string())
            }
            _ => {
                return Err(format!(
                    "'{text}' is not an output format (table, json, yaml, or one an extension adds)"
                ));
            }
        })
    }
}

/// What a command shows: the data, its table, and how `mag` exits.
pub struct Shown {
    pub data: Value,
    pub table: String,
    /// A line for stderr (what happens next), printed in every format.
    pub note: Option<String>,
    /// The exit status (0 unless the result itself is a failure or a wait).
    pub code: u8,
    /// Print `table` as it is whatever the format (an export's own format).
    pub raw: bool,
}

impl Shown {
    pub fn new(data: Value, table: String) -> Shown {
        Shown {
            data,
            table,
            note: None,
            code: crate::error::exit::OK,
            raw: false,
        }
    }

    /// The text in a built-in format (an extension's format is written by
    /// the server, see `commands::render_with_extension`).
    pub fn render(&self, format: &Format) -> String {
        match format {
            _ if self.raw => self.table.clone(),
            Format::Table | Format::Extension(_) => self.table.trim_end().to_string(),
            Format::Json => serde_json::to_string_pretty(&self.data).unwrap_or_default(),
            Format::Yaml => to_yaml(&self.data).trim_end().to_string(),
        }
    }
}

/// A table with aligned columns.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        if self.rows.is_empty() {
            return "(none)".into();
        }
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(width(cell));
                }
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(widths[i] - width(cell) + 2));
                }
            }
            out.trim_end().to_string()
        };
        let mut out = line(&self.headers);
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row));
        }
        out
    }
}

/// Two columns, FIELD and VALUE, for one object.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let mut table = Table::new(&["FIELD", "VALUE"]);
    for (name, value) in pairs {
        table.row(vec![name.to_string(), value.clone()]);
    }
    table.render()
}

/// A value as a table cell: strings bare, null as `-`, lists joined by `,`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// `value` as YAML (block style; empty collections as `{}` and `[]`).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn is_collection(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let pad = " ".repeat(indent);
    for (key, value) in map {
        out.push_str(&pad);
        out.push_str(&yaml_string(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_list(out: &mut String, items: &[Value], indent: usize) {
    let pad = " ".repeat(indent);
    for item in items {
        out.push_str(&pad);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&pad);
                        out.push_str("  ");
                    }
                    out.push_str(&yaml_string(key));
                    out.push(':');
                    write_value_after_key(out, value, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, indent + 2);
            }
            scalar => {
                out.push(' ');
                out.push_str(&yaml_scalar(scalar));
                out.push('\n');
            }
        }
    }
}

/// Writes what follows `key:` for a key indented by `indent`.
fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    if is_collection(value) {
        out.push('\n');
        match value {
            Value::Object(map) => write_map(out, map, indent + 2),
            Value::Array(items) => write_list(out, items, indent + 2),
            _ => unreachable!("a collection"),
        }
    } else {
        out.push(' ');
        out.push_str(&yaml_scalar(value));
        out.push('\n');
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string plain when it cannot read as anything else, else double-quoted
/// with JSON's escapes (which YAML's double-quoted style shares).
fn yaml_string(s: &str) -> String {
    let plain_char = |c: char| c.is_ascii_alphanumeric() || "_-./@+".contains(c);
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    );
    let starts_well = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/');
    let numeric_looking = s.parse::<f64>().is_ok();
    if !s.is_empty() && starts_well && !reserved && !numeric_looking && s.chars().all(plain_char) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_of_nested_values() {
        let value = json!({
            "extension": {"id": "magflock/steady", "version": "1.0.0", "granted": ["a.b", "c.d"], "reason": null},
            "items": [{"name": "x", "n": 2}, {"empty": {}}],
            "flags": [],
            "quoted": ["true", "", "1.5", "two words", "a: b", "-dash"],
            "ok": true,
        });
        let yaml = to_yaml(&value);
        assert_eq!(
            yaml,
            "extension:\n  granted:\n    - a.b\n    - c.d\n  id: magflock/steady\n  reason: null\n  version: \"1.0.0\"\n\
             flags: []\n\
             items:\n  - \"n\": 2\n    name: x\n  - empty: {}\n\
             ok: true\n\
             quoted:\n  - \"true\"\n  - \"\"\n  - \"1.5\"\n  - \"two words\"\n  - \"a: b\"\n  - \"-dash\"\n"
        );
    }

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(&["ID", "STATE"]);
        table.row(vec!["magflock/steady".into(), "enabled".into()]);
        table.row(vec!["a/b".into(), "-".into()]);
        assert_eq!(
            table.render(),
            "ID               STATE\nmagflock/steady  enabled\na/b              -"
        );
        assert_eq!(Table::new(&["ID"]).render(), "(none)");
    }
}
