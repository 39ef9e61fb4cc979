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

/// Hydrates the server-rendered page. Asynchronously: a page loaded on demand
/// (`pages::on_demand`) hydrates once its wasm chunk has arrived, and only
/// then is `<body data-hydrated="true">` set, which lets tests (and curious
/// admins) tell a live page from server HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document()
            .body()
            .expect("the page has a <body>");
        leptos::mount::hydrate_from_async(body.clone(), App)
            .await
            .forget();
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
