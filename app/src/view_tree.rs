//! The declarative views extensions return for widgets, panels and schema
//! explorer tabs, as MagUI reads them.
//!
//! Guarantees: [`ViewNode::parse`] accepts only the node kinds below, each
//! with its fields of the right type, within fixed limits (depth, node count,
//! text length, table and chart sizes), and names the first problem with its
//! place in the tree (`children[1].rows[0]`). Nothing in a view is markup or
//! code: MagUI renders every node with its own components, text as text, and
//! a button or form can only name one of the extension's own declared
//! commands (checked by the server when it is used).

use serde::{Deserialize, Serialize};

/// Deepest nesting of stacks and rows.
pub const MAX_DEPTH: usize = 8;
/// Most nodes in one view.
pub const MAX_NODES: usize = 500;
/// Longest text of any one string.
pub const MAX_TEXT: usize = 4_000;
/// Most table rows or chart points.
pub const MAX_ROWS: usize = 500;
/// Most table columns, key-value items or form fields.
pub const MAX_COLUMNS: usize = 24;

/// One node of a view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ViewNode {
    Heading {
        text: String,
    },
    Text {
        text: String,
    },
    /// A labelled figure, e.g. "Slow queries: 3".
    Stat {
        label: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
    },
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A line or bar chart of labelled points.
    Chart {
        kind: ChartKind,
        points: Vec<(String, f64)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// Labelled values, one per line.
    KeyValue {
        items: Vec<(String, String)>,
    },
    Badge {
        text: String,
        #[serde(default)]
        tone: Tone,
    },
    /// A button that runs one of the extension's declared commands.
    Button {
        label: String,
        command: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
    },
    /// Inputs whose values are passed to a command as `name=value` arguments.
    Form {
        command: String,
        submit: String,
        fields: Vec<FormField>,
    },
    /// Children one below the other.
    Stack {
        children: Vec<ViewNode>,
    },
    /// Children side by side (wrapping on narrow screens).
    Row {
        children: Vec<ViewNode>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    Line,
    Bar,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    #[default]
    Neutral,
    Good,
    Warning,
    Bad,
}

/// One input of a [`ViewNode::Form`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// The argument's name (letters, digits, `_` and `-`).
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub kind: FieldKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The choices of a `select` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    #[default]
    Text,
    Number,
    Select,
    Checkbox,
}

impl ViewNode {
    /// Reads a view from an extension's JSON answer, or says what is wrong
    /// with it and where.
    pub fn parse(json: &str) -> Result<ViewNode, String> {
        let node: ViewNode = serde_json::from_str(json).map_err(|e| {
            format!(
                "the view is not valid: {} (line {}, column {})",
                strip_position(&e.to_string()),
                e.line(),
                e.column()
            )
        })?;
        let mut count = 0;
        node.check("view", 1, &mut count)?;
        Ok(node)
    }

    /// The commands this view's buttons and forms run.
    pub fn commands(&self) -> Vec<&str> {
        match self {
            ViewNode::Button { command, .. } | ViewNode::Form { command, .. } => vec![command],
            ViewNode::Stack { children } | ViewNode::Row { children } => {
                children.iter().flat_map(ViewNode::commands).collect()
            }
            _ => Vec::new(),
        }
    }

    fn check(&self, at: &str, depth: usize, count: &mut usize) -> Result<(), String> {
        *count += 1;
        if *count > MAX_NODES {
            return Err(format!("{at}: the view has more than {MAX_NODES} nodes"));
        }
        match self {
            ViewNode::Heading { text } | ViewNode::Text { text } | ViewNode::Badge { text, .. } => {
                text_ok(at, "text", text)
            }
            ViewNode::Stat { label, value, hint } => {
                text_ok(at, "label", label)?;
                text_ok(at, "value", value)?;
                hint.as_deref().map_or(Ok(()), |h| text_ok(at, "hint", h))
            }
            ViewNode::Table { columns, rows } => {
                at_most(at, "columns", columns.len(), MAX_COLUMNS)?;
                at_most(at, "rows", rows.len(), MAX_ROWS)?;
                for (i, column) in columns.iter().enumerate() {
                    text_ok(at, &format!("columns[{i}]"), column)?;
                }
                for (i, row) in rows.iter().enumerate() {
                    if row.len() != columns.len() {
                        return Err(format!(
                            "{at}.rows[{i}]: has {} cells for {} columns",
                            row.len(),
                            columns.len()
                        ));
                    }
                    for (j, cell) in row.iter().enumerate() {
                        text_ok(at, &format!("rows[{i}][{j}]"), cell)?;
                    }
                }
                Ok(())
            }
            ViewNode::Chart { points, label, .. } => {
                at_most(at, "points", points.len(), MAX_ROWS)?;
                if let Some(label) = label {
                    text_ok(at, "label", label)?;
                }
                for (i, (name, value)) in points.iter().enumerate() {
                    text_ok(at, &format!("points[{i}]"), name)?;
                    if !value.is_finite() {
                        return Err(format!(
                            "{at}.points[{i}]: the value is not a finite number"
                        ));
                    }
                }
                Ok(())
            }
            ViewNode::KeyValue { items } => {
                at_most(at, "items", items.len(), MAX_ROWS)?;
                for (i, (key, value)) in items.iter().enumerate() {
                    text_ok(at, &format!("items[{i}]"), key)?;
                    text_ok(at, &format!("items[{i}]"), value)?;
                }
                Ok(())
            }
            ViewNode::Button {
                label,
                command,
                args,
            } => {
                text_ok(at, "label", label)?;
                command_ok(at, command)?;
                at_most(at, "args", args.len(), MAX_COLUMNS)?;
                for (i, arg) in args.iter().enumerate() {
                    text_ok(at, &format!("args[{i}]"), arg)?;
                }
                Ok(())
            }
            ViewNode::Form {
                command,
                submit,
                fields,
            } => {
                command_ok(at, command)?;
                text_ok(at, "submit", submit)?;
                at_most(at, "fields", fields.len(), MAX_COLUMNS)?;
                for (i, field) in fields.iter().enumerate() {
                    field.check(&format!("{at}.fields[{i}]"))?;
                }
                Ok(())
            }
            ViewNode::Stack { children } | ViewNode::Row { children } => {
                if depth >= MAX_DEPTH {
                    return Err(format!("{at}: nested deeper than {MAX_DEPTH} levels"));
                }
                for (i, child) in children.iter().enumerate() {
                    child.check(&format!("{at}.children[{i}]"), depth + 1, count)?;
                }
                Ok(())
            }
        }
    }
}

impl FormField {
    fn check(&self, at: &str) -> Result<(), String> {
        if !name_ok(&self.name) {
            return Err(format!(
                "{at}.name: '{}' must be 1 to 64 letters, digits, '_' or '-'",
                self.name
            ));
        }
        text_ok(at, "label", &self.label)?;
        if let Some(value) = &self.value {
            text_ok(at, "value", value)?;
        }
        at_most(at, "options", self.options.len(), MAX_ROWS)?;
        if self.kind == FieldKind::Select && self.options.is_empty() {
            return Err(format!(
                "{at}.options: a select field needs at least one option"
            ));
        }
        Ok(())
    }
}

/// serde's message without its trailing " at line L column C" (said separately).
fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

fn text_ok(at: &str, field: &str, text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_TEXT {
        return Err(format!("{at}.{field}: longer than {MAX_TEXT} characters"));
    }
    Ok(())
}

fn at_most(at: &str, field: &str, len: usize, max: usize) -> Result<(), String> {
    if len > max {
        return Err(format!(
            "{at}.{field}: {len} entries, at most {max} allowed"
        ));
    }
    Ok(())
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn command_ok(at: &str, command: &str) -> Result<(), String> {
    if name_ok(command) {
        Ok(())
    } else {
        Err(format!(
            "{at}.command: '{command}' is not a command name (letters, digits, '_' or '-')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_view_is_read_with_its_commands() {
        let view = ViewNode::parse(
            r#"{"type":"stack","children":[
                {"type":"heading","text":"Deliveries"},
                {"type":"stat","label":"Waiting","value":"3"},
                {"type":"table","columns":["a","b"],"rows":[["1","2"]]},
                {"type":"chart","kind":"line","points":[["10:00",1.5]]},
                {"type":"key_value","items":[["Routes","2"]]},
                {"type":"badge","text":"healthy","tone":"good"},
                {"type":"row","children":[{"type":"button","label":"Retry","command":"retry"}]},
                {"type":"form","command":"test","submit":"Send","fields":[{"name":"url","label":"URL"}]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(view.commands(), vec!["retry", "test"]);
    }

    #[test]
    fn unknown_kinds_and_wrong_types_are_named_with_their_place() {
        let err = ViewNode::parse(r#"{"type":"script","src":"x.js"}"#).unwrap_err();
        assert!(err.contains("unknown variant `script`"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let err = ViewNode::parse(r#"{"type":"stat","label":"x","value":3}"#).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn structural_problems_are_named_with_their_path() {
        let err = ViewNode::parse(
            r#"{"type":"stack","children":[{"type":"text","text":"ok"},
               {"type":"table","columns":["a","b"],"rows":[["only one"]]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err, "view.children[1].rows[0]: has 1 cells for 2 columns");

        let err =
            ViewNode::parse(r#"{"type":"button","label":"Go","command":"rm -rf /"}"#).unwrap_err();
        assert!(err.starts_with("view.command:"), "{err}");

        let err = ViewNode::parse(
            r#"{"type":"form","command":"c","submit":"Go","fields":[{"name":"x","label":"X","kind":"select"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "view.fields[0].options: a select field needs at least one option"
        );
    }

    #[test]
    fn limits_hold() {
        let mut deep = r#"{"type":"text","text":"x"}"#.to_string();
        for _ in 0..MAX_DEPTH {
            deep = format!(r#"{{"type":"stack","children":[{deep}]}}"#);
        }
        assert!(
            ViewNode::parse(&deep)
                .unwrap_err()
                .contains("nested deeper")
        );

        let many = vec![r#"{"type":"text","text":"x"}"#; MAX_NODES].join(",");
        let err =
            ViewNode::parse(&format!(r#"{{"type":"stack","children":[{many}]}}"#)).unwrap_err();
        assert!(err.contains("more than 500 nodes"), "{err}");

        let long = "y".repeat(MAX_TEXT + 1);
        let err = ViewNode::parse(&format!(r#"{{"type":"text","text":"{long}"}}"#)).unwrap_err();
        assert_eq!(err, "view.text: longer than 4000 characters");

        let err = ViewNode::parse(r#"{"type":"chart","kind":"bar","points":[["a",1e400]]}"#);
        assert!(err.is_err());
    }
}
