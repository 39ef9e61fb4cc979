//! Small presentational pieces with consistent styling and accessibility
//! (every input has a label, focus is always visible).

use leptos::prelude::*;
use magflock_types::{Outcome, Role};

pub const INPUT_CLASS: &str = "block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm placeholder:text-slate-400 focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/40 disabled:cursor-not-allowed disabled:bg-slate-100 dark:border-slate-700 dark:bg-slate-900 dark:disabled:bg-slate-800";
pub const PRIMARY_BUTTON: &str = "inline-flex items-center justify-center rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-60 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-500";
pub const SECONDARY_BUTTON: &str = "inline-flex items-center justify-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-60 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-200 dark:hover:bg-slate-800";
pub const DANGER_BUTTON: &str = "inline-flex items-center justify-center rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50 disabled:opacity-60 focus-visible:outline focus-visible:outline-2 focus-visible:outline-red-500 dark:border-red-800 dark:bg-slate-900 dark:text-red-300 dark:hover:bg-red-950";

/// A page title with an optional one-line description.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(into, optional)] description: String,
) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title.clone()/>
        <header class="mb-6">
            <h1 class="text-2xl font-semibold tracking-tight">{title}</h1>
            {(!description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{description}</p> })}
        </header>
    }
}

#[component]
pub fn Card(children: Children, #[prop(into, optional)] title: String) -> impl IntoView {
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            {(!title.is_empty()).then(|| view! { <h2 class="mb-4 text-base font-semibold">{title}</h2> })}
            {children()}
        </section>
    }
}

#[component]
pub fn Stat(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(into, optional)] hint: String,
) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="mt-1 text-2xl font-semibold">{value}</dd>
            {(!hint.is_empty()).then(|| view! { <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">{hint}</p> })}
        </div>
    }
}

/// A labelled input. `invalid` marks it (and announces it) when the last error
/// names this field.
#[component]
pub fn Field(
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    /// The element id; defaults to `field-<name>` (set it when a page repeats a name).
    #[prop(into, optional)]
    id: String,
    #[prop(into, default = "text".to_string())] kind: String,
    #[prop(into, optional)] value: String,
    #[prop(into, optional)] autocomplete: String,
    #[prop(into, optional)] hint: String,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(optional, into)] invalid: Signal<bool>,
    /// Called with the new text on every keystroke.
    #[prop(optional)]
    on_input: Option<Callback<String>>,
) -> impl IntoView {
    let id = if id.is_empty() {
        format!("field-{name}")
    } else {
        id
    };
    let hint_id = format!("{id}-hint");
    let has_hint = !hint.is_empty();
    view! {
        <div class="space-y-1">
            <label for=id.clone() class="block text-sm font-medium text-slate-700 dark:text-slate-200">{label}</label>
            <input
                id=id
                name=name
                type=kind
                value=value
                autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
                required=required
                disabled=move || disabled.get()
                aria-invalid=move || invalid.get().to_string()
                aria-describedby=has_hint.then_some(hint_id.clone())
                class=INPUT_CLASS
                class:border-red-500=move || invalid.get()
                on:input=move |ev| {
                    if let Some(callback) = on_input {
                        callback.run(event_target_value(&ev));
                    }
                }
            />
            {has_hint.then(|| view! { <p id=hint_id class="text-xs text-slate-500 dark:text-slate-400">{hint}</p> })}
        </div>
    }
}

#[component]
pub fn RoleBadge(role: Role) -> impl IntoView {
    let colour = match role {
        Role::Owner => "bg-purple-100 text-purple-800 dark:bg-purple-900/60 dark:text-purple-200",
        Role::Admin => "bg-indigo-100 text-indigo-800 dark:bg-indigo-900/60 dark:text-indigo-200",
        Role::Auditor => "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
    };
    view! { <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{role.label()}</span> }
}

#[component]
pub fn OutcomeBadge(outcome: Outcome) -> impl IntoView {
    let colour = match outcome {
        Outcome::Success => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
        Outcome::Failure => "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200",
        Outcome::Denied => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
    };
    view! { <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{outcome.as_str()}</span> }
}

/// A table with the console's look: it scrolls sideways on narrow screens,
/// takes its column headings from `columns` and its rows (`<tr>`s) from
/// `children`.
#[component]
pub fn DataTable(
    #[prop(into)] testid: String,
    columns: Vec<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="overflow-x-auto">
            <table class="min-w-full text-left text-sm" data-testid=testid>
                <thead class="border-b border-slate-200 text-xs uppercase text-slate-500 dark:border-slate-800">
                    <tr>{columns.into_iter().map(|c| view! { <th scope="col" class="py-2 pr-3">{c}</th> }).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-200 dark:divide-slate-800">{children()}</tbody>
            </table>
        </div>
    }
}
