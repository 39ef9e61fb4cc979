//! The console pages the browser downloads only when they are first visited.
//!
//! Guarantees: sign-in, first-run setup, the Dashboard and the daily work with
//! extensions (Marketplace, Approvals, Extensions, Health, Projects, panels)
//! ship in the main wasm, so the first visit and those pages need nothing
//! else. The pages listed here (settings, accounts, audit, events, the schema
//! explorer, a listing's README) are [`LazyRoute`]s: `cargo leptos build
//! --split` moves each one's code into its own wasm file, and code several of
//! them share into chunks of their own. A server-rendered page of this list
//! still hydrates in place: the server adds `<link rel="preload">` tags for the
//! files that page needs, and the browser hydrates asynchronously
//! (`crate::hydrate`), once they have arrived. The server renders these pages
//! exactly as the others. Sizes: BENCHMARKS.md, "MagUI: what a browser
//! downloads".

use crate::pages;
use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

/// Declares `$route`, a lazily loaded route that renders the page component `$page`.
///
/// A page starts its own resources when it renders, as it does when the server
/// renders it; in the browser that is once its chunk has arrived.
macro_rules! on_demand {
    ($($(#[$doc:meta])* $route:ident => $page:path;)*) => {$(
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

on_demand! {
    /// `/marketplace/:publisher/:name`: one listing with its README.
    Listing => pages::marketplace::ListingPage;
    /// `/events`: categories, subscriber lag, dead letters.
    Events => pages::events::EventsPage;
    /// `/audit`: the audit log.
    Audit => pages::audit::AuditPage;
    /// `/users`: accounts and roles.
    Users => pages::users::UsersPage;
    /// `/settings`: instance settings.
    Settings => pages::settings::SettingsPage;
    /// `/settings/keys`: trusted publisher keys.
    TrustedKeys => pages::trust::TrustedKeysPage;
    /// `/settings/sign-in`: single sign-on providers.
    SignInProviders => pages::sign_in::SignInProvidersPage;
    /// `/account`: the signed-in user's own account and tokens.
    Account => pages::account::AccountPage;
}
