//! The Health page (`/health`, `?extension=<id>` for one): every installed
//! extension's calls, error rate, CPU (fuel), memory and latency
//! quantiles, its last health check, and the auto-disable history.
//!
//! The first render shows the figures at load time; in the browser the page
//! then subscribes to the live health feed (MagWS system channel) and draws
//! each new frame into its charts without a reload. Alerts raised meanwhile
//! appear as notifications (the chrome's) and in the history here.

use crate::AppError;
use crate::api::alerts::AlertInfo;
use crate::api::health::{
    ExtensionHealth, Figures, HEALTH_CHANNEL, HealthFrame, format_bytes, format_count,
    format_latency, health_incidents, health_snapshot,
};
use crate::components::charts::{Colour, LineChart, Series};
use crate::components::errors::{ErrorBanner, ErrorPage};
use crate::components::live::{LiveStatus, connect_live};
use crate::components::notifications::LiveAlerts;
use crate::components::ui::{Card, DataTable, PageHeader};
use crate::pages::extensions::StateBadge;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use magflock_types::time::format_utc;

/// One line of a chart: its label, colour and the figure it follows.
type Line = (&'static str, Colour, fn(&Figures) -> Option<f64>);

/// Frames kept for the charts (3 minutes at one frame every 2 s).
const KEEP_FRAMES: usize = 90;

const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";

fn as_count(v: f64) -> String {
    format_count(v.round() as u64)
}
fn as_ms(v: f64) -> String {
    format!("{:.1} ms", v / 1000.0)
}
fn as_percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}
fn as_bytes(v: f64) -> String {
    format_bytes(v.round() as u64)
}

/// The points of one figure of one extension over the frames (frames
/// without the extension or without the figure are skipped).
fn points(
    frames: &[HealthFrame],
    id: Option<&str>,
    pick: impl Fn(&Figures) -> Option<f64>,
) -> Vec<(f64, f64)> {
    frames
        .iter()
        .filter_map(|frame| {
            let value = match id {
                Some(id) => frame
                    .extensions
                    .iter()
                    .find(|e| e.id == id)
                    .and_then(|e| e.interval.as_ref())
                    .and_then(&pick)?,
                None => frame
                    .extensions
                    .iter()
                    .filter_map(|e| e.interval.as_ref().and_then(&pick))
                    .sum(),
            };
            Some((frame.at as f64, value))
        })
        .collect()
}

#[component]
pub fn HealthPage() -> impl IntoView {
    let query = use_query_map();
    let only = Memo::new(move |_| {
        query
            .read()
            .get("extension")
            .filter(|v| !v.trim().is_empty())
    });
    let snapshot = Resource::new(|| (), |_| health_snapshot());
    let live_alerts = use_context::<LiveAlerts>();
    let incidents = Resource::new(
        move || (only.get(), live_alerts.map(|l| l.raised.read().len())),
        |(only, _)| health_incidents(only),
    );
    let frames = RwSignal::new(Vec::<HealthFrame>::new());
    let status = connect_live(&[HEALTH_CHANNEL], move |message| {
        let Ok(frame) = serde_json::from_value::<HealthFrame>(message.data) else {
            return;
        };
        frames.update(|all| {
            if all.last().is_some_and(|last| last.at >= frame.at) {
                return;
            }
            all.push(frame);
            let extra = all.len().saturating_sub(KEEP_FRAMES);
            all.drain(..extra);
        });
    });
    view! {
        <PageHeader title="Health" description="Calls, errors, CPU (fuel), memory and latency of every installed extension, updated live, with the monitor's checks and what it stopped."/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(initial) => {
                        let latest = Signal::derive(move || {
                            frames.with(|all| all.last().cloned()).unwrap_or_else(|| initial.clone())
                        });
                        view! { <Dashboard latest frames status only/> }.into_any()
                    }
                }
            })}
        </Suspense>
        <div class="mt-6">
            <Card title="Auto-disable history">
                <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">"What the health monitor and the sandbox stopped, and starts that failed, newest first (acknowledged ones included)."</p>
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match incidents.await {
                            Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-emerald-700 dark:text-emerald-300" data-testid="no-incidents">"Nothing was stopped: no extension has been disabled, quarantined or failed to start."</p>
                            }.into_any(),
                            Ok(list) => view! { <Incidents list/> }.into_any(),
                        }
                    })}
                </Transition>
            </Card>
        </div>
    }
    .into_any()
}

#[component]
fn Dashboard(
    latest: Signal<HealthFrame>,
    frames: RwSignal<Vec<HealthFrame>>,
    status: ReadSignal<LiveStatus>,
    only: Memo<Option<String>>,
) -> impl IntoView {
    let shown = move || {
        let only = only.get();
        latest
            .get()
            .extensions
            .into_iter()
            .filter(|e| only.as_ref().is_none_or(|o| &e.id == o))
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    let running = move || {
        let frame = latest.get();
        let on = frame
            .extensions
            .iter()
            .filter(|e| e.state == "enabled")
            .count();
        format!("{on} of {}", frame.extensions.len())
    };
    let calls = move || format_count(latest.get().extensions.iter().map(|e| e.totals.calls).sum());
    let errors = move || {
        let frame = latest.get();
        let calls: u64 = frame.extensions.iter().map(|e| e.totals.calls).sum();
        let errors: u64 = frame.extensions.iter().map(|e| e.totals.errors).sum();
        if calls == 0 {
            "0".to_string()
        } else {
            format!("{errors} ({:.1}%)", errors as f64 * 100.0 / calls as f64)
        }
    };
    let all_calls = Signal::derive(move || {
        frames.with(|all| {
            vec![
                Series {
                    label: "calls".into(),
                    colour: Colour::Indigo,
                    points: points(all, None, pick_calls),
                },
                Series {
                    label: "failed".into(),
                    colour: Colour::Red,
                    points: points(all, None, pick_errors),
                },
            ]
        })
    });
    let updated = move || format_utc(latest.get().at);
    let filter_links = move || {
        let current = only.get();
        let ids: Vec<String> = latest.get().extensions.into_iter().map(|e| e.id).collect();
        let all_class = if current.is_none() {
            "font-semibold"
        } else {
            ""
        };
        view! {
            <nav aria-label="Extensions shown" class="flex flex-wrap gap-x-3 gap-y-1 text-sm">
                <a href="/health" class=format!("{LINK} {all_class}") aria-current=current.is_none().then_some("page")>"All extensions"</a>
                {ids.into_iter().map(|id| {
                    let here = current.as_deref() == Some(id.as_str());
                    view! {
                        <a href=format!("/health?extension={id}") class=format!("{LINK} {}", if here { "font-semibold" } else { "" }) aria-current=here.then_some("page")>{id.clone()}</a>
                    }
                }).collect_view()}
            </nav>
        }
    };
    view! {
        <div class="space-y-6">
            <div class="flex flex-wrap items-center justify-between gap-3">
                {filter_links}
                <p role="status" data-testid="live-status" data-state=move || format!("{:?}", status.get()).to_lowercase() class="inline-flex items-center gap-2 text-sm text-slate-600 dark:text-slate-300">
                    <span class=move || if status.get() == LiveStatus::Live { "h-2.5 w-2.5 rounded-full bg-emerald-500" } else { "h-2.5 w-2.5 rounded-full bg-slate-400" } aria-hidden="true"></span>
                    {move || status.get().label()}
                    <span class="font-mono text-xs" data-testid="updated-at">{move || format!("as of {}", updated())}</span>
                </p>
            </div>
            <dl class="grid grid-cols-1 gap-4 sm:grid-cols-3">
                <LiveStat label="Enabled (of installed)" value=Signal::derive(running)/>
                <LiveStat label="Calls (since loaded)" value=Signal::derive(calls)/>
                <LiveStat label="Failed calls" value=Signal::derive(errors)/>
            </dl>
            <Card title="All extensions">
                <LineChart title="Calls and failed calls per 2 s" series=all_calls format=as_count testid="chart-all-calls"/>
            </Card>
            <For each=shown key=|id| id.clone() let:id>
                <ExtensionCard id latest frames/>
            </For>
            {move || latest.get().extensions.is_empty().then(|| view! {
                <Card>
                    <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-extensions">
                        "No extension is installed, so there is nothing to watch yet. "
                        <a href="/marketplace" class=LINK>"Browse the Marketplace"</a>
                    </p>
                </Card>
            })}
        </div>
    }
    .into_any()
}

/// A stat tile whose value follows a signal.
#[component]
fn LiveStat(#[prop(into)] label: String, value: Signal<String>) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="mt-1 text-2xl font-semibold">{move || value.get()}</dd>
        </div>
    }
    .into_any()
}

#[component]
fn ExtensionCard(
    id: String,
    latest: Signal<HealthFrame>,
    frames: RwSignal<Vec<HealthFrame>>,
) -> impl IntoView {
    let current = {
        let id = id.clone();
        Signal::derive(move || latest.with(|f| f.extensions.iter().find(|e| e.id == id).cloned()))
    };
    let series = {
        let id = id.clone();
        move |parts: Vec<Line>| {
            let id = id.clone();
            Signal::derive(move || {
                frames.with(|all| {
                    parts
                        .iter()
                        .map(|(label, colour, pick)| Series {
                            label: (*label).to_string(),
                            colour: *colour,
                            points: points(all, Some(&id), pick),
                        })
                        .collect()
                })
            })
        }
    };
    let calls = series(vec![
        ("calls", Colour::Indigo, pick_calls),
        ("failed", Colour::Red, pick_errors),
    ]);
    let latency = series(vec![
        ("p50", Colour::Emerald, pick_p50),
        ("p95", Colour::Amber, pick_p95),
        ("p99", Colour::Red, pick_p99),
    ]);
    let error_rate = series(vec![("error rate", Colour::Red, pick_error_rate)]);
    let fuel = series(vec![("fuel per call", Colour::Sky, pick_fuel)]);
    let memory = series(vec![("peak memory", Colour::Indigo, pick_memory)]);
    let anchor = format!("ext-{}", id.replace('/', "-"));
    let detail_href = format!("/extensions/{id}");
    view! {
        <section id=anchor class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="extension-health" data-extension=id.clone() data-state=move || current.get().map(|e| e.state).unwrap_or_default()>
            {move || current.get().map(|e| view! { <Heading health=e href=detail_href.clone()/> })}
            {move || current.get().map(|e| view! { <Numbers health=e/> })}
            <div class="mt-4 grid gap-4 md:grid-cols-2 lg:grid-cols-3">
                <LineChart title="Calls and failed calls per 2 s" series=calls format=as_count testid="chart-calls"/>
                <LineChart title="Error rate" series=error_rate format=as_percent testid="chart-error-rate"/>
                <LineChart title="Latency (upper bound of the bucket)" series=latency format=as_ms testid="chart-latency"/>
                <LineChart title="CPU: fuel per call" series=fuel format=as_count testid="chart-fuel"/>
                <LineChart title="Peak memory" series=memory format=as_bytes testid="chart-memory"/>
            </div>
        </section>
    }
    .into_any()
}

fn pick_calls(f: &Figures) -> Option<f64> {
    Some(f.calls as f64)
}
fn pick_errors(f: &Figures) -> Option<f64> {
    Some(f.errors as f64)
}
fn pick_p50(f: &Figures) -> Option<f64> {
    f.p50_us.map(|v| v as f64)
}
fn pick_p95(f: &Figures) -> Option<f64> {
    f.p95_us.map(|v| v as f64)
}
fn pick_p99(f: &Figures) -> Option<f64> {
    f.p99_us.map(|v| v as f64)
}
fn pick_error_rate(f: &Figures) -> Option<f64> {
    (f.calls > 0).then_some(f.error_rate)
}
fn pick_fuel(f: &Figures) -> Option<f64> {
    (f.calls > 0).then_some(f.fuel_per_call as f64)
}
fn pick_memory(f: &Figures) -> Option<f64> {
    Some(f.peak_memory_bytes as f64)
}

#[component]
fn Heading(health: ExtensionHealth, href: String) -> impl IntoView {
    view! {
        <div class="flex flex-wrap items-start justify-between gap-3">
            <div>
                <h2 class="text-base font-semibold"><a href=href class="hover:underline">{health.name.clone()}</a></h2>
                <p class="font-mono text-xs text-slate-500">{format!("{} {}", health.id, health.version)}</p>
            </div>
            <StateBadge state=health.state.clone() label=crate::api::extensions::state_label(&health.state, None)/>
        </div>
        {health.reason.clone().map(|reason| view! {
            <p class="mt-2 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">{reason}</p>
        })}
    }
    .into_any()
}

#[component]
fn Numbers(health: ExtensionHealth) -> impl IntoView {
    let totals = health.totals.clone();
    let budgets = health.budgets.clone();
    let fuel_hint = budgets
        .as_ref()
        .map(|b| format!("budget {} per call", format_count(b.fuel_per_call)))
        .unwrap_or_default();
    let memory_hint = budgets
        .as_ref()
        .map(|b| format!("cap {} MiB", b.memory_mb))
        .unwrap_or_default();
    let deadline_hint = budgets
        .as_ref()
        .map(|b| format!("deadline {} ms", b.deadline_ms))
        .unwrap_or_default();
    let check = match &health.last_check {
        None => (
            "Not checked yet".to_string(),
            "the monitor checks enabled extensions every interval".to_string(),
        ),
        Some(c) if c.healthy => ("Healthy".to_string(), format_utc(c.at)),
        Some(c) => (
            "Unhealthy".to_string(),
            format!(
                "{} · {}",
                format_utc(c.at),
                c.problem.clone().unwrap_or_default()
            ),
        ),
    };
    view! {
        <dl class="mt-4 grid grid-cols-2 gap-3 text-sm sm:grid-cols-3 lg:grid-cols-6" data-testid="health-numbers">
            <Figure label="Calls" value=format_count(totals.calls) hint=format!("{} stopped by the kernel", totals.stopped) testid="calls"/>
            <Figure label="Error rate" value=totals.error_percent() hint=format!("{} failed", totals.errors) testid="error-rate"/>
            <Figure label="CPU (fuel/call)" value=format_count(totals.fuel_per_call) hint=fuel_hint testid="fuel"/>
            <Figure label="Peak memory" value=format_bytes(totals.peak_memory_bytes) hint=memory_hint testid="memory"/>
            <Figure label="Latency p50 / p95 / p99" value=format!("{} / {} / {}", format_latency(totals.p50_us), format_latency(totals.p95_us), format_latency(totals.p99_us)) hint=deadline_hint testid="latency"/>
            <Figure label="Last health check" value=check.0 hint=check.1 testid="last-check"/>
        </dl>
    }
    .into_any()
}

#[component]
fn Figure(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(into)] hint: String,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <div class="rounded-md bg-slate-50 p-2 dark:bg-slate-950" data-testid=testid>
            <dt class="text-xs text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="font-semibold">{value}</dd>
            <dd class="text-xs text-slate-500 dark:text-slate-400">{hint}</dd>
        </div>
    }
    .into_any()
}

#[component]
fn Incidents(list: Vec<AlertInfo>) -> impl IntoView {
    view! {
        <DataTable testid="incidents" columns=vec!["When (UTC)", "Extension", "What happened", "Details", "Acknowledged"]>
                    {list.into_iter().map(|a| view! {
                        <tr data-testid="incident" data-kind=a.kind.clone() data-extension=a.extension.clone()>
                            <td class="whitespace-nowrap py-2 pr-3 font-mono text-xs">{format_utc(a.raised_at)}</td>
                            <td class="py-2 pr-3 font-mono text-xs"><a href=format!("/extensions/{}", a.extension) class=LINK>{a.extension.clone()}</a></td>
                            <td class="py-2 pr-3">{a.kind_label()}</td>
                            <td class="py-2 pr-3 break-words">{a.message.clone()}</td>
                            <td class="py-2 text-xs">{a.acknowledged_by.clone().map(|by| format!("by {by}")).unwrap_or_else(|| "not yet".into())}</td>
                        </tr>
                    }).collect_view()}
                </DataTable>
    }
    .into_any()
}
