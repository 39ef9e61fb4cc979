//! Renders an extension's declarative view ([`ViewNode`]) with MagUI's own
//! components: every string is text (never markup), charts are drawn here as
//! SVG, and buttons and forms only report the command and its arguments to
//! the page, which runs it through the server (where the command must be one
//! the extension declares, and the caller's role must allow it).
//!
//! Guarantees: rendering never fails: an extension's malformed answer reaches
//! here as an error, shown by [`ViewError`] inside the widget's box.

use super::ui::{INPUT_CLASS, SECONDARY_BUTTON};
use crate::view_tree::{ChartKind, FieldKind, FormField, Tone, ViewNode};
use leptos::prelude::*;

/// A command a view asked to run: (command, arguments).
pub type ViewCommand = (String, Vec<String>);

/// Renders `node`. `on_command` runs a button's or form's command; `None`
/// (a role that may not act) shows the controls disabled.
#[component]
pub fn DeclarativeView(
    node: ViewNode,
    on_command: Option<Callback<ViewCommand>>,
    /// True while a command of this view runs (its controls wait).
    #[prop(optional, into)]
    busy: Signal<bool>,
) -> impl IntoView {
    render(node, on_command, busy)
}

/// An extension's view that could not be shown, with the reason.
#[component]
pub fn ViewError(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <div role="alert" data-testid="view-error" class="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">
            <p class="font-medium">"This view could not be shown."</p>
            <p class="mt-1 break-words">{message}</p>
        </div>
    }
}

fn render(
    node: ViewNode,
    on_command: Option<Callback<ViewCommand>>,
    busy: Signal<bool>,
) -> AnyView {
    match node {
        ViewNode::Heading { text } => {
            view! { <h3 class="text-sm font-semibold">{text}</h3> }.into_any()
        }
        ViewNode::Text { text } => {
            view! { <p class="text-sm text-slate-700 dark:text-slate-300">{text}</p> }.into_any()
        }
        ViewNode::Stat { label, value, hint } => view! {
            <div class="min-w-[7rem]" data-testid="view-stat">
                <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
                <dd class="text-xl font-semibold">{value}</dd>
                {hint.map(|h| view! { <p class="text-xs text-slate-500">{h}</p> })}
            </div>
        }
        .into_any(),
        ViewNode::Table { columns, rows } => table(columns, rows),
        ViewNode::Chart {
            kind,
            points,
            label,
        } => view! { <Chart kind points label=label.unwrap_or_default()/> }.into_any(),
        ViewNode::KeyValue { items } => view! {
            <dl class="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-sm">
                {items.into_iter().map(|(k, v)| view! {
                    <dt class="text-slate-500 dark:text-slate-400">{k}</dt>
                    <dd class="break-words">{v}</dd>
                }).collect_view()}
            </dl>
        }
        .into_any(),
        ViewNode::Badge { text, tone } => {
            view! { <span class=format!("inline-flex w-fit rounded-full px-2 py-0.5 text-xs font-medium {}", tone_class(tone))>{text}</span> }
                .into_any()
        }
        ViewNode::Button {
            label,
            command,
            args,
        } => {
            let disabled = on_command.is_none();
            view! {
                <button type="button" class=SECONDARY_BUTTON
                    disabled=move || disabled || busy.get()
                    title=disabled.then_some("Your role cannot run extension commands.")
                    on:click=move |_| {
                        if let Some(run) = on_command {
                            run.run((command.clone(), args.clone()));
                        }
                    }>
                    {label}
                </button>
            }
            .into_any()
        }
        ViewNode::Form {
            command,
            submit,
            fields,
        } => form(command, submit, fields, on_command, busy),
        ViewNode::Stack { children } => view! {
            <div class="flex flex-col gap-3">
                {children.into_iter().map(|c| render(c, on_command, busy)).collect_view()}
            </div>
        }
        .into_any(),
        ViewNode::Row { children } => view! {
            <div class="flex flex-wrap items-start gap-4">
                {children.into_iter().map(|c| render(c, on_command, busy)).collect_view()}
            </div>
        }
        .into_any(),
    }
}

fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Neutral => "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
        Tone::Good => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
        Tone::Warning => "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200",
        Tone::Bad => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
    }
}

fn table(columns: Vec<String>, rows: Vec<Vec<String>>) -> AnyView {
    let empty = rows.is_empty();
    let span = columns.len().max(1);
    view! {
        <div class="overflow-x-auto">
            <table class="min-w-full text-left text-sm">
                <thead class="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500 dark:border-slate-700 dark:text-slate-400">
                    <tr>{columns.into_iter().map(|c| view! { <th scope="col" class="px-2 py-1 font-medium">{c}</th> }).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {rows.into_iter().map(|row| view! {
                        <tr>{row.into_iter().map(|cell| view! { <td class="px-2 py-1 align-top break-words">{cell}</td> }).collect_view()}</tr>
                    }).collect_view()}
                    {empty.then(|| view! { <tr><td colspan=span class="px-2 py-2 text-slate-500">"No rows."</td></tr> })}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn form(
    command: String,
    submit: String,
    fields: Vec<FormField>,
    on_command: Option<Callback<ViewCommand>>,
    busy: Signal<bool>,
) -> AnyView {
    let disabled = on_command.is_none();
    let values: Vec<(String, RwSignal<String>)> = fields
        .iter()
        .map(|f| {
            let initial = f.value.clone().unwrap_or_else(|| match f.kind {
                FieldKind::Select => f.options.first().cloned().unwrap_or_default(),
                FieldKind::Checkbox => "false".into(),
                _ => String::new(),
            });
            (f.name.clone(), RwSignal::new(initial))
        })
        .collect();
    let submitted = values.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(run) = on_command {
            let args = submitted
                .iter()
                .map(|(name, value)| format!("{name}={}", value.get_untracked()))
                .collect();
            run.run((command.clone(), args));
        }
    };
    view! {
        <form class="flex flex-wrap items-end gap-3" on:submit=on_submit>
            {fields.into_iter().zip(values).map(|(field, (_, value))| input(field, value)).collect_view()}
            <button type="submit" class=SECONDARY_BUTTON disabled=move || disabled || busy.get()>{submit}</button>
        </form>
    }
    .into_any()
}

fn input(field: FormField, value: RwSignal<String>) -> AnyView {
    let id = format!("view-field-{}", field.name);
    let label = field.label;
    match field.kind {
        FieldKind::Select => view! {
            <label class="space-y-1 text-sm">
                <span class="block font-medium">{label}</span>
                <select id=id class=INPUT_CLASS on:change=move |ev| value.set(event_target_value(&ev))>
                    {field.options.into_iter().map(|o| {
                        let selected = o == value.get_untracked();
                        let text = o.clone();
                        view! { <option value=o selected=selected>{text}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
        .into_any(),
        FieldKind::Checkbox => view! {
            <label class="flex items-center gap-2 text-sm">
                <input id=id type="checkbox" checked=value.get_untracked() == "true"
                    on:change=move |ev| value.set(event_target_checked(&ev).to_string())/>
                <span>{label}</span>
            </label>
        }
        .into_any(),
        kind => {
            let kind = if kind == FieldKind::Number { "number" } else { "text" };
            view! {
                <label class="space-y-1 text-sm">
                    <span class="block font-medium">{label}</span>
                    <input id=id type=kind class=INPUT_CLASS prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))/>
                </label>
            }
            .into_any()
        }
    }
}

/// A small SVG chart of labelled points (line or bars), scaled to its data,
/// with the range and the first and last labels as text.
#[component]
pub fn Chart(
    kind: ChartKind,
    points: Vec<(String, f64)>,
    #[prop(into, optional)] label: String,
) -> impl IntoView {
    const W: f64 = 300.0;
    const H: f64 = 80.0;
    let max = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let lowest = points.iter().map(|p| p.1).fold(f64::MAX, f64::min);
    // Bars and lines start from zero unless the data goes below it.
    let min = lowest.min(0.0);
    let span = if max > min { max - min } else { 1.0 };
    let n = points.len();
    let y = move |v: f64| H - (v - min) / span * H;
    let shapes = match kind {
        ChartKind::Line => {
            let step = if n > 1 { W / (n - 1) as f64 } else { 0.0 };
            let line: Vec<String> = points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{:.1},{:.1}", i as f64 * step, y(p.1)))
                .collect();
            view! { <polyline points=line.join(" ") fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke"/> }
                .into_any()
        }
        ChartKind::Bar => {
            let width = if n > 0 { W / n as f64 } else { W };
            points
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let top = y(p.1.max(0.0));
                    view! { <rect x=format!("{:.1}", i as f64 * width + 1.0) y=format!("{top:.1}") width=format!("{:.1}", (width - 2.0).max(1.0)) height=format!("{:.1}", (y(0.0) - top).max(0.0)) fill="currentColor"><title>{format!("{}: {}", p.0, p.1)}</title></rect> }
                })
                .collect_view()
                .into_any()
        }
    };
    let first = points.first().map(|p| p.0.clone()).unwrap_or_default();
    let last = points.last().map(|p| p.0.clone()).unwrap_or_default();
    let range = if n == 0 {
        "No data yet.".to_string()
    } else {
        format!("{} to {}", trim_number(lowest), trim_number(max))
    };
    let summary = format!("{label} {range}").trim().to_string();
    view! {
        <figure class="w-full min-w-[12rem]" data-testid="view-chart">
            {(!label.is_empty()).then(|| view! { <figcaption class="mb-1 text-xs font-medium text-slate-500 dark:text-slate-400">{label.clone()}</figcaption> })}
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img" aria-label=summary class="h-20 w-full text-indigo-500">
                {shapes}
            </svg>
            <div class="mt-1 flex justify-between text-[11px] text-slate-500 dark:text-slate-400">
                <span>{first}</span><span>{range}</span><span>{last}</span>
            </div>
        </figure>
    }
}

/// A number without needless decimals (`3`, `2.5`, `0.125`).
fn trim_number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
