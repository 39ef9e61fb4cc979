//! Small presentational pieces with consistent styling and accessibility
//! (every input has a label, focus is always visible). The form controls
//! ([`Field`], [`TextArea`], [`Select`]) share one layout: the label (`for`
//! the control) above, the field's own error (announced) and hint below,
//! both named by the control's `aria-describedby`, and `aria-invalid` while
//! the field is in error.

use leptos::attr::Attribute;
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

const LABEL_CLASS: &str = "block text-sm font-medium text-slate-700 dark:text-slate-200";
const HINT_CLASS: &str = "text-xs text-slate-500 dark:text-slate-400";
const ERROR_CLASS: &str = "text-sm font-medium text-red-700 dark:text-red-300";

/// One form control's label, hint and error, and what ties them to it:
/// `for`, `aria-invalid` and `aria-describedby`.
struct Control {
    label: String,
    id: String,
    name: String,
    hint: String,
    error: Signal<Option<String>>,
    invalid: Signal<bool>,
}

impl Control {
    /// `id` defaults to `field-<name>`; the control is invalid while
    /// `invalid` holds or while it has an error message.
    fn new(
        label: String,
        id: String,
        name: String,
        hint: String,
        invalid: Signal<bool>,
        error: Signal<Option<String>>,
    ) -> Self {
        let id = if id.is_empty() {
            format!("field-{name}")
        } else {
            id
        };
        Control {
            label,
            id,
            name,
            hint,
            error,
            invalid: Signal::derive(move || invalid.get() || error.get().is_some()),
        }
    }

    fn error_id(&self) -> String {
        format!("{}-error", self.id)
    }

    fn hint_id(&self) -> Option<String> {
        (!self.hint.is_empty()).then(|| format!("{}-hint", self.id))
    }

    /// The attributes every control has: id, name, `required`, its invalid
    /// state, what describes it (its error while it has one, then its hint),
    /// and the input look plus `class`.
    fn attrs(&self, required: bool, class: &str) -> impl Attribute + use<> {
        let (error, error_id, hint_id, invalid) =
            (self.error, self.error_id(), self.hint_id(), self.invalid);
        let described_by = move || {
            let error_id = error.get().is_some().then_some(error_id.as_str());
            let ids: Vec<&str> = error_id.into_iter().chain(hint_id.as_deref()).collect();
            (!ids.is_empty()).then(|| ids.join(" "))
        };
        let class = if class.is_empty() {
            INPUT_CLASS.to_string()
        } else {
            format!("{INPUT_CLASS} {class}")
        };
        view! {
            <{..}
                id=self.id.clone()
                name=self.name.clone()
                required=required
                aria-invalid=move || invalid.get().to_string()
                aria-describedby=described_by
                class=class
                class:border-red-500=move || invalid.get()
            />
        }
    }

    /// The label above `control`, and below it the error message (while
    /// there is one, announced) and the hint.
    fn view(self, control: impl IntoView + 'static) -> impl IntoView {
        let (error_id, hint_id) = (self.error_id(), self.hint_id());
        let error_testid = format!("{}-error", self.name);
        let Control {
            label,
            id,
            hint,
            error,
            ..
        } = self;
        view! {
            <div class="space-y-1">
                <label for=id class=LABEL_CLASS>{label}</label>
                {control}
                {move || error.get().map(|message| view! {
                    <p id=error_id.clone() class=ERROR_CLASS role="alert" data-testid=error_testid.clone()>{message}</p>
                })}
                {hint_id.map(|hint_id| view! { <p id=hint_id class=HINT_CLASS>{hint}</p> })}
            </div>
        }
    }
}

/// The attributes of a control one types text into.
fn text_attrs(
    autocomplete: String,
    placeholder: String,
    spellcheck: Option<bool>,
) -> impl Attribute {
    view! {
        <{..}
            autocomplete=(!autocomplete.is_empty()).then_some(autocomplete)
            placeholder=(!placeholder.is_empty()).then_some(placeholder)
            spellcheck=spellcheck.map(|on| on.to_string())
        />
    }
}

/// A labelled input. `invalid` marks it (and announces it) when the last error
/// names this field; `error` also shows that error's message under it.
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
    #[prop(into, optional)] placeholder: String,
    /// `false` for names, keys and code.
    #[prop(optional)]
    spellcheck: Option<bool>,
    #[prop(into, optional)] hint: String,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(optional, into)] invalid: Signal<bool>,
    /// The message of the last error when it names this field.
    #[prop(optional, into)]
    error: Signal<Option<String>>,
    /// Classes added to the control's (such as `font-mono`).
    #[prop(into, optional)]
    class: String,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Input>,
    /// Called with the new text on every keystroke.
    #[prop(optional)]
    on_input: Option<Callback<String>>,
) -> impl IntoView {
    let control = Control::new(label, id, name, hint, invalid, error);
    let attrs = control.attrs(required, &class);
    let text = text_attrs(autocomplete, placeholder, spellcheck);
    control.view(view! {
        <input
            {..attrs}
            {..text}
            type=kind
            value=value
            node_ref=node_ref
            disabled=move || disabled.get()
            on:input=move |ev| {
                if let Some(callback) = on_input {
                    callback.run(event_target_value(&ev));
                }
            }
        />
    })
}

/// A labelled multi-line text box, with [`Field`]'s label, error and hint.
#[component]
pub fn TextArea(
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    /// The element id; defaults to `field-<name>`.
    #[prop(into, optional)]
    id: String,
    #[prop(default = 4)] rows: u32,
    #[prop(optional)] maxlength: Option<u32>,
    #[prop(into, optional)] autocomplete: String,
    #[prop(into, optional)] placeholder: String,
    /// `false` for keys and code.
    #[prop(optional)]
    spellcheck: Option<bool>,
    #[prop(into, optional)] hint: String,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] invalid: Signal<bool>,
    /// The message of the last error when it names this field.
    #[prop(optional, into)]
    error: Signal<Option<String>>,
    /// Classes added to the control's (such as `font-mono`).
    #[prop(into, optional)]
    class: String,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Textarea>,
) -> impl IntoView {
    let control = Control::new(label, id, name, hint, invalid, error);
    let attrs = control.attrs(required, &class);
    let text = text_attrs(autocomplete, placeholder, spellcheck);
    control.view(view! {
        <textarea {..attrs} {..text} rows=rows maxlength=maxlength node_ref=node_ref></textarea>
    })
}

/// A labelled drop-down whose `<option>`s are its children, with
/// [`Field`]'s label, error and hint.
#[component]
pub fn Select(
    #[prop(into)] label: String,
    #[prop(into)] name: String,
    /// The element id; defaults to `field-<name>`.
    #[prop(into, optional)]
    id: String,
    #[prop(into, optional)] hint: String,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] invalid: Signal<bool>,
    /// The message of the last error when it names this field.
    #[prop(optional, into)]
    error: Signal<Option<String>>,
    children: Children,
) -> impl IntoView {
    let control = Control::new(label, id, name, hint, invalid, error);
    let attrs = control.attrs(required, "");
    control.view(view! { <select {..attrs}>{children()}</select> })
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
