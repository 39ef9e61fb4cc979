//! How errors look: whole-page errors (session ended, 403, 404, database down)
//! with the right HTTP status during server rendering, and inline banners for
//! forms.

use crate::AppError;
use leptos::prelude::*;

/// A page-sized explanation of `error`, with a way forward.
#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    // A signed-out visitor is being redirected to sign-in by the layout; that
    // redirect's status must win over this page's.
    #[cfg(feature = "ssr")]
    if error != AppError::Unauthenticated {
        error.apply_to_response();
    }
    let (code, title, body, link, link_text): (&str, &str, String, &str, &str) = match &error {
        AppError::Unauthenticated => (
            "401",
            "Your session has ended",
            "For your security, sessions end after a period without activity, after their maximum length, or when an administrator changes your account.".into(),
            "/login",
            "Sign in again",
        ),
        AppError::Forbidden => (
            "403",
            "You don't have access to this page",
            "Your role does not include this part of MagFlock. An owner or admin can change your role on the Users page.".into(),
            "/",
            "Back to the dashboard",
        ),
        AppError::NotFound(message) => ("404", "Page not found", message.clone(), "/", "Back to the dashboard"),
        AppError::Unavailable => (
            "503",
            "The control-plane database is unreachable",
            error.to_string(),
            "",
            "Try again",
        ),
        other => ("Error", "Something went wrong", other.to_string(), "/", "Back to the dashboard"),
    };
    view! {
        <main class="mx-auto flex min-h-[60vh] max-w-xl flex-col items-start justify-center gap-4 p-8" data-testid="error-page" data-status=error.status()>
            <p class="text-sm font-semibold text-indigo-600 dark:text-indigo-400">{code}</p>
            <h1 class="text-2xl font-semibold tracking-tight">{title}</h1>
            <p class="text-slate-600 dark:text-slate-300">{body}</p>
            <a href=link class="rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500">{link_text}</a>
        </main>
    }
}

/// The error of the last action, if any, as a banner (`role="alert"`).
#[component]
pub fn ErrorBanner(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <div role="alert" class="rounded-md border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
                    {e.to_string()}
                </div>
            }
        })
    }
}

/// The error of a server action's last result.
pub fn action_error<I, T>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// True while `error` is about the form field `field` (marks that input invalid).
pub fn field_error(error: Signal<Option<AppError>>, field: &'static str) -> Signal<bool> {
    Signal::derive(move || error.get().is_some_and(|e| e.field() == Some(field)))
}
