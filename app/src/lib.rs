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

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Lets tests (and curious admins) tell a hydrated page from server HTML.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
