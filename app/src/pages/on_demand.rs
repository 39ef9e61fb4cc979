//! The console pages the browser downloads only when they are first visited.
//!
//! Guarantees: sign-in, first-run setup, the Dashboard and the daily work with
//! extensions (Marketplace, Approvals, Extensions, Health, Projects and their
//! Schema Explorer, panels)
//! ship in the main wasm, so the first visit and those pages need nothing
//! else. The pages listed here (settings, accounts, audit, events, a listing's
//! README) are [`LazyRoute`]s: `cargo leptos build
//! --split` moves each one's code into its own wasm file, and code several of
//! them share into chunks of their own. A server-rendered page of this list
//! still hydrates in place: the server marks it and adds `<link
//! rel="preload">` tags for the files it needs (see [`OnDemandHead`]), and the
//! browser hydrates it asynchronously (`crate::hydrate`), once they have
//! arrived. Every other page hydrates synchronously, as before. The server
//! renders these pages exactly as the others. Sizes: BENCHMARKS.md, "MagUI:
//! what a browser downloads".

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
                view! { <OnDemandHead route=stringify!($route)/> <$page/> }.into_any()
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

/// On the server, two things in the head of a page loaded on demand: the
/// `<meta name="magflock-hydration" content="async">` that tells
/// [`crate::hydrate`] to wait for the page's files, and `<link rel="preload">`
/// tags for those files, so the browser fetches them beside the main wasm
/// (the loader, `__wasm_split.js`, is imported by `magflock.js` anyway). In
/// the browser it renders nothing: the tags are already in the head.
///
/// Leptos 0.8 means to add the preload tags itself, but its response builder
/// looks the split manifest up where it cannot find it, and adds none. The
/// manifest (`__wasm_split_manifest.json`, written by `cargo leptos build
/// --split`, read by `HydrationScripts`) names each lazy view `__<route in
/// snake case>_view_<hash>`; without it (a build without `--split`), no
/// preload tags are added.
#[component]
fn OnDemandHead(route: &'static str) -> impl IntoView {
    #[cfg(feature = "ssr")]
    on_demand_head(route);
    #[cfg(not(feature = "ssr"))]
    let _ = route;
}

#[cfg(feature = "ssr")]
fn on_demand_head(route: &str) {
    use leptos_meta::{Link, Meta};
    // Rendered to HTML, a leptos_meta tag goes to the head, not here.
    let _ = view! { <Meta name=crate::HYDRATION_META content="async"/> }.to_html();
    let prefix = format!("__{}_view_", snake_case(route));
    // Read in place: the manifest lists every page's files.
    let hrefs = use_context::<leptos::WasmSplitManifest>()
        .and_then(|manifest| {
            manifest.0.try_with_value(|(pkg, files, _loader)| {
                files
                    .iter()
                    .find_map(|(name, needed)| name.starts_with(&prefix).then_some(needed))
                    .into_iter()
                    .flatten()
                    .map(|file| format!("{pkg}/{file}.wasm"))
                    .collect::<Vec<_>>()
            })
        })
        .unwrap_or_default();
    for href in hrefs {
        let _ = view! {
            <Link rel="preload" href as_="fetch" type_="application/wasm" crossorigin="anonymous"/>
        }
        .to_html();
    }
}

/// `TrustedKeys` → `trusted_keys`, as Leptos names a lazy route's view.
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.push(c.to_ascii_lowercase());
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn route_names_in_snake_case() {
        assert_eq!(snake_case("Audit"), "audit");
        assert_eq!(snake_case("TrustedKeys"), "trusted_keys");
        assert_eq!(snake_case("SignInProviders"), "sign_in_providers");
    }
}
