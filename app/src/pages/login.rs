//! Sign-in. Sends the visitor to setup while no account exists, and onwards to
//! the page they asked for (`?next=`, same site only) once signed in.

use crate::AppError;
use crate::api::session::{Login, SessionState};
use crate::app::{SessionResource, safe_next};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::theme::ThemeToggle;
use crate::components::ui::{Field, PRIMARY_BUTTON};
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
            </AuthCard>
        </AuthGate>
    }
}
