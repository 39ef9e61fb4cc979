//! Extension widgets on the Dashboard (arranged and hidden per user) and
//! extension panels as pages of their own. Views are drawn by
//! `components::declarative`; their buttons and forms run the extension's
//! commands through the server, for admins and owners only.

use crate::AppError;
use crate::api::widgets::{
    DashboardLayout, DashboardView, RunViewCommand, SaveDashboardLayout, Widget, dashboard_widgets,
    render_panel,
};
use crate::components::declarative::{DeclarativeView, ViewCommand, ViewError};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{Card, PageHeader, SECONDARY_BUTTON};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The widgets section's actions and data, made where the Dashboard starts.
///
/// Not inside the section: it is drawn inside the Dashboard's `Suspense`, and a
/// resource made there gets its number (which pairs the server's answer with
/// the browser's resource at hydration) only when the summary has arrived, in
/// whatever order the server's pending work finishes; made up front, it always
/// gets the same one.
#[derive(Clone, Copy)]
pub struct WidgetsState {
    save: ServerAction<SaveDashboardLayout>,
    run: ServerAction<RunViewCommand>,
    widgets: Resource<Result<DashboardView, AppError>>,
}

impl WidgetsState {
    pub fn new() -> Self {
        let save = ServerAction::<SaveDashboardLayout>::new();
        let run = ServerAction::<RunViewCommand>::new();
        let widgets = Resource::new(
            move || (save.version().get(), run.version().get()),
            |_| dashboard_widgets(),
        );
        Self { save, run, widgets }
    }
}

/// The Dashboard's "Extension widgets" section.
#[component]
pub fn WidgetsSection(state: WidgetsState) -> impl IntoView {
    let WidgetsState { save, run, widgets } = state;
    let save_error = action_error(save);
    let run_error = action_error(run);
    let busy = Signal::derive(move || run.pending().get() || save.pending().get());
    view! {
        <section class="mt-6" aria-labelledby="widgets-heading" data-testid="widgets">
            <h2 id="widgets-heading" class="mb-3 text-base font-semibold">"Extension widgets"</h2>
            <div class="space-y-3">
                <ErrorBanner error=save_error/>
                <ErrorBanner error=run_error/>
                {move || run.value().get().and_then(|r| r.ok()).map(|output| view! {
                    <p role="status" class="whitespace-pre-wrap rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200" data-testid="command-output">
                        {if output.trim().is_empty() { "Done.".to_string() } else { output }}
                    </p>
                })}
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading widgets…"</p> }>
                    {move || Suspend::new(async move {
                        match widgets.await {
                            Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                            Ok(dashboard) if dashboard.widgets.is_empty() => view! {
                                <p class="text-sm text-slate-600 dark:text-slate-400" data-testid="no-widgets">
                                    "No widgets yet. Extensions granted “Show widgets on the MagUI dashboard” add theirs here; find some in the "
                                    <a href="/marketplace" class="font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Marketplace"</a>"."
                                </p>
                            }.into_any(),
                            Ok(dashboard) => {
                                let all = dashboard.widgets;
                                let can_act = dashboard.can_act;
                                let keys: Vec<String> = all.iter().map(|w| w.key.clone()).collect();
                                let hidden: Vec<String> = all.iter().filter(|w| w.hidden).map(|w| w.key.clone()).collect();
                                let arrange = Callback::new(move |change: Arrange| {
                                    let layout = change.apply(&keys, &hidden);
                                    let layout = serde_json::to_string(&layout).unwrap_or_default();
                                    save.dispatch(SaveDashboardLayout { layout });
                                });
                                let shown: Vec<Widget> = all.iter().filter(|w| !w.hidden).cloned().collect();
                                let last = shown.len().saturating_sub(1);
                                let hidden_widgets: Vec<Widget> = all.into_iter().filter(|w| w.hidden).collect();
                                view! {
                                    <div class="grid grid-cols-1 gap-4 lg:grid-cols-2">
                                        {shown.into_iter().enumerate().map(|(i, widget)| view! {
                                            <WidgetCard widget first=i == 0 last=i == last arrange can_act run busy/>
                                        }).collect_view()}
                                    </div>
                                    {(!hidden_widgets.is_empty()).then(|| view! {
                                        <div class="flex flex-wrap items-center gap-2 text-sm" data-testid="hidden-widgets">
                                            <span class="text-slate-600 dark:text-slate-400">"Hidden:"</span>
                                            {hidden_widgets.into_iter().map(|w| {
                                                let key = w.key.clone();
                                                view! {
                                                    <button type="button" class=SECONDARY_BUTTON disabled=move || busy.get()
                                                        aria-label=format!("Show widget {}", w.title)
                                                        on:click=move |_| arrange.run(Arrange::Show(key.clone()))>
                                                        {format!("Show “{}”", w.title)}
                                                    </button>
                                                }
                                            }).collect_view()}
                                        </div>
                                    })}
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}

/// One change to the Dashboard's arrangement.
#[derive(Clone, Debug)]
enum Arrange {
    Up(String),
    Down(String),
    Hide(String),
    Show(String),
}

impl Arrange {
    /// The layout after this change, from the current order and hidden set.
    fn apply(&self, keys: &[String], hidden: &[String]) -> DashboardLayout {
        let mut order = keys.to_vec();
        let mut hidden = hidden.to_vec();
        let at = |order: &[String], key: &str| order.iter().position(|k| k == key);
        match self {
            Arrange::Up(key) => {
                // Past any hidden widgets in between, to the previous shown one.
                if let Some(i) = at(&order, key)
                    && let Some(j) = (0..i).rev().find(|&j| !hidden.contains(&order[j]))
                {
                    order.swap(i, j);
                }
            }
            Arrange::Down(key) => {
                if let Some(i) = at(&order, key)
                    && let Some(j) = (i + 1..order.len()).find(|&j| !hidden.contains(&order[j]))
                {
                    order.swap(i, j);
                }
            }
            Arrange::Hide(key) => {
                if !hidden.contains(key) {
                    hidden.push(key.clone());
                }
            }
            Arrange::Show(key) => hidden.retain(|k| k != key),
        }
        DashboardLayout { order, hidden }
    }
}

#[component]
fn WidgetCard(
    widget: Widget,
    first: bool,
    last: bool,
    arrange: Callback<Arrange>,
    can_act: bool,
    run: ServerAction<RunViewCommand>,
    busy: Signal<bool>,
) -> impl IntoView {
    let extension = widget.extension.clone();
    let on_command = can_act.then(|| {
        Callback::new(move |(command, args): ViewCommand| {
            run.dispatch(RunViewCommand {
                extension: extension.clone(),
                command,
                args: serde_json::to_string(&args).unwrap_or_else(|_| "[]".into()),
            });
        })
    });
    let key = widget.key.clone();
    let (up, down, hide) = (key.clone(), key.clone(), key);
    let title = widget.title.clone();
    view! {
        <article class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
            data-testid="widget" data-key=widget.key.clone() aria-label=format!("Widget {title}")>
            <header class="mb-3 flex items-start justify-between gap-2">
                <div>
                    <h3 class="text-sm font-semibold">{widget.title.clone()}</h3>
                    <p class="font-mono text-xs text-slate-500 dark:text-slate-400">{widget.extension.clone()}</p>
                </div>
                <div class="flex gap-1">
                    <button type="button" class=SECONDARY_BUTTON disabled=move || first || busy.get()
                        aria-label=format!("Move {title} up") on:click=move |_| arrange.run(Arrange::Up(up.clone()))>"↑"</button>
                    <button type="button" class=SECONDARY_BUTTON disabled=move || last || busy.get()
                        aria-label=format!("Move {} down", widget.title) on:click=move |_| arrange.run(Arrange::Down(down.clone()))>"↓"</button>
                    <button type="button" class=SECONDARY_BUTTON disabled=move || busy.get()
                        aria-label=format!("Hide {}", widget.title) on:click=move |_| arrange.run(Arrange::Hide(hide.clone()))>"Hide"</button>
                </div>
            </header>
            {match widget.view {
                Ok(node) => view! { <DeclarativeView node on_command busy/> }.into_any(),
                Err(message) => view! { <ViewError message/> }.into_any(),
            }}
        </article>
    }
}

/// `/panels/:publisher/:name/:panel`: one extension panel.
#[component]
pub fn PanelPage() -> impl IntoView {
    let params = use_params_map();
    let run = ServerAction::<RunViewCommand>::new();
    let target = move || {
        params.with(|p| {
            (
                format!(
                    "{}/{}",
                    p.get("publisher").unwrap_or_default(),
                    p.get("name").unwrap_or_default()
                ),
                p.get("panel").unwrap_or_default(),
            )
        })
    };
    let panel = Resource::new(
        move || (target(), run.version().get()),
        |((extension, panel), _)| render_panel(extension, panel),
    );
    let run_error = action_error(run);
    let busy = Signal::derive(move || run.pending().get());
    view! {
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading panel…"</p> }>
            {move || Suspend::new(async move {
                match panel.await {
                    Err(error) => view! { <ErrorPage error/> }.into_any(),
                    Ok(p) => {
                        let extension = p.extension.clone();
                        let on_command = p.can_act.then(|| Callback::new(move |(command, args): ViewCommand| {
                            run.dispatch(RunViewCommand {
                                extension: extension.clone(),
                                command,
                                args: serde_json::to_string(&args).unwrap_or_else(|_| "[]".into()),
                            });
                        }));
                        view! {
                            <PageHeader title=p.title.clone() description=format!("A panel of {}.", p.extension)/>
                            <div class="space-y-3" data-testid="panel">
                                <ErrorBanner error=run_error/>
                                {move || run.value().get().and_then(|r| r.ok()).map(|output| view! {
                                    <p role="status" class="whitespace-pre-wrap rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200" data-testid="command-output">
                                        {if output.trim().is_empty() { "Done.".to_string() } else { output }}
                                    </p>
                                })}
                                <Card>
                                    {match p.view {
                                        Ok(node) => view! { <DeclarativeView node on_command busy/> }.into_any(),
                                        Err(message) => view! { <ViewError message/> }.into_any(),
                                    }}
                                </Card>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn moving_skips_hidden_widgets_and_hiding_keeps_the_order() {
        let order = keys(&["a#1", "b#1", "c#1"]);
        let hidden = keys(&["b#1"]);
        let up = Arrange::Up("c#1".into()).apply(&order, &hidden);
        assert_eq!(up.order, keys(&["c#1", "b#1", "a#1"]));
        let down = Arrange::Down("a#1".into()).apply(&order, &[]);
        assert_eq!(down.order, keys(&["b#1", "a#1", "c#1"]));
        let first_up = Arrange::Up("a#1".into()).apply(&order, &[]);
        assert_eq!(first_up.order, order);
        let hide = Arrange::Hide("a#1".into()).apply(&order, &hidden);
        assert_eq!(hide.hidden, keys(&["b#1", "a#1"]));
        assert_eq!(hide.order, order);
        let show = Arrange::Show("b#1".into()).apply(&order, &hidden);
        assert!(show.hidden.is_empty());
    }
}
