//! The page shell, the router, and the console layout that decides, for every
//! page, whether to show it, send the visitor to first-run setup, or to sign-in.

use crate::AppError;
use crate::api::session::{SessionState, current_session};
use crate::components::chrome::Chrome;
use crate::components::errors::ErrorPage;
use crate::pages;
use crate::pages::on_demand;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Outlet, ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::{Lazy, SsrMode, path};
use magflock_types::User;

/// Sets the colour scheme before the first paint (saved choice, else the system's).
const THEME_BOOT: &str = "try{var t=localStorage.getItem('magflock-theme');if(t==='dark'||(!t&&matchMedia('(prefers-color-scheme: dark)').matches)){document.documentElement.classList.add('dark')}}catch(e){}";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <script inner_html=THEME_BOOT></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="h-full bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App/>
            </body>
        </html>
    }
}

/// The session as the server last reported it; refetched after sign-in and sign-out.
#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<SessionState, AppError>>);

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session = Resource::new(|| (), |_| current_session());
    provide_context(SessionResource(session));

    view! {
        <Stylesheet id="leptos" href="/pkg/magflock.css"/>
        <Title formatter=|text: String| if text.is_empty() { "MagFlock".to_string() } else { format!("{text} · MagFlock") }/>
        <Router>
            <Routes fallback=|| view! { <ErrorPage error=AppError::NotFound("There is no page at this address.".into())/> }>
                <Route path=path!("/setup") view=pages::setup::SetupPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=pages::login::LoginPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=ConsoleLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=pages::dashboard::DashboardPage ssr=SsrMode::Async/>
                    <Route path=path!("marketplace") view=pages::marketplace::MarketplacePage ssr=SsrMode::Async/>
                    <Route path=path!("marketplace/:publisher/:name") view={Lazy::<on_demand::Listing>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("approvals") view=pages::approvals::ApprovalsPage ssr=SsrMode::Async/>
                    <Route path=path!("extensions") view=pages::extensions::ExtensionsPage ssr=SsrMode::Async/>
                    <Route path=path!("extensions/:publisher/:name") view=pages::extensions::ExtensionPage ssr=SsrMode::Async/>
                    <Route path=path!("health") view=pages::health::HealthPage ssr=SsrMode::Async/>
                    <Route path=path!("events") view={Lazy::<on_demand::Events>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("projects") view=pages::projects::ProjectsPage ssr=SsrMode::Async/>
                    <Route path=path!("projects/:name") view=pages::projects::ProjectPage ssr=SsrMode::Async/>
                    <Route path=path!("projects/:name/schema") view=pages::schema::SchemaPage ssr=SsrMode::Async/>
                    <Route path=path!("panels/:publisher/:name/:panel") view=pages::widgets::PanelPage ssr=SsrMode::Async/>
                    <Route path=path!("audit") view={Lazy::<on_demand::Audit>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("users") view={Lazy::<on_demand::Users>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("settings") view={Lazy::<on_demand::Settings>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("settings/keys") view={Lazy::<on_demand::TrustedKeys>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("settings/sign-in") view={Lazy::<on_demand::SignInProviders>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("account") view={Lazy::<on_demand::Account>::new()} ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// A path is a safe place to return to after sign-in only if it stays on this site.
pub fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".to_string())
}

/// Percent-encodes a path for use as a query value.
pub fn encode_query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The signed-in user, once the session is known (`None` when signed out).
pub async fn signed_in_user() -> Option<User> {
    expect_context::<SessionResource>()
        .0
        .await
        .ok()
        .and_then(|state| state.user)
}

/// Every console page goes through here: setup first, then sign-in, then the page.
///
/// The page itself (the `Outlet`) is rendered once, outside any closure that
/// depends on the session: a page owns resources, and rendering it again when the
/// session resolves would start them twice on the server and break hydration.
/// A visitor who must go elsewhere is redirected by the gate above it.
#[component]
fn ConsoleLayout() -> impl IntoView {
    let session = expect_context::<SessionResource>().0;
    let location = use_location();
    let gate = move || {
        Suspend::new(async move {
            let elsewhere = match session.await {
                Ok(state) if state.setup_needed => Some("/setup".to_string()),
                Ok(SessionState { user: None, .. }) => {
                    let here = location.pathname.get_untracked();
                    Some(if here == "/" {
                        "/login".to_string()
                    } else {
                        format!("/login?next={}", encode_query_value(&here))
                    })
                }
                _ => None,
            };
            elsewhere.map(|path| view! { <Redirect path/> })
        })
    };
    view! {
        <Suspense fallback=|| ()>{gate}</Suspense>
        <Chrome><Outlet/></Chrome>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next(Some("/users".into())), "/users");
        assert_eq!(safe_next(Some("//evil.example".into())), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(Some("/\\evil.example".into())), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(encode_query_value("/audit?x=1&y"), "/audit%3Fx%3D1%26y");
    }
}
