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
