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
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A line or bar chart of labelled points.
    Chart {
        kind: ChartKind,
        points: Vec<(String, f64)>,
    },
    /// A button that calls the extension's `run-command`.
    Button {
        label: String,
        command: String,
    },
    Stack {
        children: Vec<View>,
    },
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
