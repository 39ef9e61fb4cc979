//! Declarative views for widgets and panels. MagUI renders them with its own
//! components; no extension code runs in the browser. A view is a tree of
//! nodes serialised as JSON (`{"type": "stat", ...}`).

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum View {
    Heading {
        text: String,
    },
    Text {
        text: String,
    },
    /// A labelled number, e.g. "Slow queries: 3".
    Stat {
        label: String,
        value: String,
    },
    /// Labelled values, one per line.
    KeyValue {
        items: Vec<(String, String)>,
    },
    /// A short status word, coloured by its tone.
    Badge {
        text: String,
        tone: Tone,
    },
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A line or bar chart of labelled points.
    Chart {
        kind: ChartKind,
        points: Vec<(String, f64)>,
    },
    /// A button that calls the extension's `run-command` (the command must be
    /// one the manifest declares under `contributes.commands`).
    Button {
        label: String,
        command: String,
    },
    /// Inputs whose values reach `run-command` as `name=value` arguments.
    Form {
        command: String,
        submit: String,
        fields: Vec<FormField>,
    },
    /// Children one below the other.
    Stack {
        children: Vec<View>,
    },
    /// Children side by side.
    Row {
        children: Vec<View>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Neutral,
    Good,
    Warning,
    Bad,
}

/// One input of a [`View::Form`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FormField {
    /// The argument's name (letters, digits, `_` and `-`).
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The choices of a `select` field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    Select,
    Checkbox,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    Line,
    Bar,
}

impl View {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }
}
