//! Sign-in. Sends the visitor to setup while no account exists, and onwards to
//! the page they asked for (`?next=`, same site only) once signed in.

use crate::AppError;
use crate::api::session::{Login, SessionState};
use crate::app::{SessionResource, safe_next};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::theme::ThemeToggle;
use crate::components::ui::{Field, PRIMARY_BUTTON, SECONDARY_BUTTON};
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_query_map};

/// The centred card used by sign-in and setup.
#[component]
pub fn AuthCard(
    #[prop(into)] title: String,
    #[prop(into)] subtitle: String,
    children: Children,
) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title.clone()/>
        <main class="flex min-h-screen items-center justify-center p-4">
            <div class="w-full max-w-md">
                <div class="mb-6 flex items-center justify-between">
                    <div class="flex items-center gap-2">
                        <span class="inline-flex h-9 w-9 items-center justify-center rounded-md bg-indigo-600 font-bold text-white" aria-hidden="true">"M"</span>
                        <span class="text-lg font-semibold">"MagFlock"</span>
                    </div>
                    <ThemeToggle/>
                </div>
                <div class="rounded-xl border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                    <h1 class="text-xl font-semibold">{title}</h1>
                    <p class="mb-5 mt-1 text-sm text-slate-600 dark:text-slate-400">{subtitle}</p>
                    {children()}
                </div>
            </div>
        </main>
    }
}

/// Shows `children` (the sign-in or setup form) unless `redirect` says, from the
/// session, that the visitor belongs elsewhere; shows the outage page while the
/// database is down.
#[component]
pub fn AuthGate(
    redirect: Callback<SessionState, Option<String>>,
    children: ChildrenFn,
) -> impl IntoView {
    let session = expect_context::<SessionResource>().0;
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match session.await {
                    Err(AppError::Unavailable) => view! { <ErrorPage error=AppError::Unavailable/> }.into_any(),
                    Ok(state) => match redirect.run(state) {
                        Some(path) => view! { <Redirect path/> }.into_any(),
                        None => children.with_value(|c| c()).into_any(),
                    },
                    Err(_) => children.with_value(|c| c()).into_any(),
                }
            })}
        </Suspense>
    }
}

/// Once `action` succeeds: refresh the session and go to `to()`.
pub fn continue_after_success<I, T>(action: ServerAction<I>, to: impl Fn() -> String + 'static)
where
    I: leptos::server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    let session = expect_context::<SessionResource>().0;
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            session.refetch();
            navigate(&to(), Default::default());
        }
    });
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next"));
    let login = ServerAction::<Login>::new();
    continue_after_success(login, next);
    let error = action_error(login);
    let session = expect_context::<SessionResource>().0;
    // "Sign in with <provider>" when single sign-on is configured: a full page
    // load (rel="external"), since the provider's pages are another site.
    let provider = move || {
        session
            .get()
            .and_then(|s| s.ok())
            .and_then(|s| s.sign_in_provider)
    };
    let sso_start = move || format!("/auth/oidc/start?next={}", encode_query_value(&next()));
    let sso_error = move || {
        query.read().get("sso").map(|code| match code.as_str() {
            "unavailable" => "The sign-in provider cannot be reached. Try again later.",
            "disabled" => "This account is disabled.",
            _ => "Single sign-on did not complete. Try again.",
        })
    };
    let redirect = Callback::new(move |state: SessionState| match state {
        SessionState {
            setup_needed: true, ..
        } => Some("/setup".to_string()),
        SessionState { user: Some(_), .. } => Some(next()),
        _ => None,
    });
    view! {
        <AuthGate redirect>
            <AuthCard title="Sign in" subtitle="Sign in to the MagFlock admin console.">
                {move || sso_error().map(|message| view! {
                    <p role="alert" class="mb-4 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200">{message}</p>
                })}
                <ActionForm action=login>
                    <div class="space-y-4">
                        <ErrorBanner error/>
                        <Field label="Email" name="email" kind="email" autocomplete="username" required=true/>
                        <Field label="Password" name="password" kind="password" autocomplete="current-password" required=true/>
                        <button type="submit" class=format!("{PRIMARY_BUTTON} w-full") disabled=move || login.pending().get()>
                            {move || if login.pending().get() { "Signing in…" } else { "Sign in" }}
                        </button>
                    </div>
                </ActionForm>
                {move || provider().map(|name| view! {
                    <div class="mt-4 border-t border-slate-200 pt-4 dark:border-slate-800">
                        <a href=sso_start rel="external" class=format!("{SECONDARY_BUTTON} w-full justify-center")>
                            {format!("Sign in with {name}")}
                        </a>
                    </div>
                })}
            </AuthCard>
        </AuthGate>
    }
}

/// Percent-encodes a same-site path for a query value (`/`, letters and digits
/// stay as they are).
fn encode_query_value(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
