//! How server functions send their answers (and [`crate::AppError`]s): JSON,
//! the same bytes as server_fn's own `Json`, but decoded in the browser from
//! text with `serde_json::from_str` — exactly how Leptos decodes the
//! resources a page was server-rendered with.
//!
//! Guarantees: the wire format is plain JSON (`application/json`), so `curl`,
//! the tests and old pages see no difference; each answer type gets one JSON
//! decoder in the browser's wasm instead of two (one per reader type), which
//! keeps the download smaller (see BENCHMARKS.md, "MagUI: what a browser
//! downloads").

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON, decoded from UTF-8 text.
pub struct JsonText;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        // Not `from_slice`: that would add a second decoder per type.
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| serde::de::Error::custom(format!("the answer is not UTF-8 text: {e}")))?;
        serde_json::from_str(text)
    }
}

/// Every server function's answer encoding (`#[server(output = ...)]`).
pub type Json = Post<JsonText>;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `#[server(...)]` function (the attribute at the start of a line, not
    /// an argument's `#[server(default)]`) under `path`, with its file and line.
    fn server_attributes(path: &Path, found: &mut Vec<(String, usize, String)>) {
        for entry in std::fs::read_dir(path).expect("the source directory is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                server_attributes(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                for (number, line) in text.lines().enumerate() {
                    if line.starts_with("#[server(") {
                        found.push((path.display().to_string(), number + 1, line.to_string()));
                    }
                }
            }
        }
    }

    /// A server function answering through server_fn's own `Json` would bring a
    /// second JSON decoder for its answer type into the browser's wasm.
    #[test]
    fn every_server_function_answers_through_this_codec() {
        let mut found = Vec::new();
        server_attributes(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.len() > 50,
            "the server functions were not found: {found:?}"
        );
        let other: Vec<_> = found
            .iter()
            .filter(|(_, _, line)| !line.contains("output = crate::api::codec::Json"))
            .map(|(file, line, text)| format!("{file}:{line}: {text}"))
            .collect();
        assert!(
            other.is_empty(),
            "answer with `output = crate::api::codec::Json`:\n{}",
            other.join("\n")
        );
    }
}
