//! MagUI: the MagFlock admin console, rendered on the server and hydrated in the
//! browser.
//!
//! Guarantees: every piece of data a page shows comes through a server function
//! in [`api`], and every server function checks the session and the role before it
//! does anything (see `server::guard`); the UI only hides what a role cannot do,
//! the server refuses it. Server-only code lives behind the `ssr` feature; the
//! hydrate entry below is all the browser adds.

pub mod api;
pub mod app;
mod components;
pub mod error;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;
pub mod view_tree;

pub use app::{App, shell};
pub use error::AppError;

/// The `<meta name=...>` by which the server marks a page loaded on demand
/// (`pages::on_demand`): such a page hydrates asynchronously.
pub const HYDRATION_META: &str = "magflock-hydration";

/// Hydrates the server-rendered page, then sets `<body data-hydrated="true">`,
/// which lets tests (and curious admins) tell a live page from server HTML.
///
/// A page loaded on demand (marked by the server with
/// `<meta name="magflock-hydration" content="async">`) hydrates
/// asynchronously, once its wasm files have arrived. Every other page
/// hydrates synchronously, in one go: nothing else runs between its first and
/// last node.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let document = leptos::prelude::document();
    let body = document.body().expect("the page has a <body>");
    let on_demand = document
        .query_selector(&format!(
            r#"meta[name="{HYDRATION_META}"][content="async"]"#
        ))
        .ok()
        .flatten()
        .is_some();
    if on_demand {
        wasm_bindgen_futures::spawn_local(async move {
            leptos::mount::hydrate_from_async(body.clone(), App)
                .await
                .forget();
            let _ = body.set_attribute("data-hydrated", "true");
        });
    } else {
        leptos::mount::hydrate_from(body.clone(), App).forget();
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
