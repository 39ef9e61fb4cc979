//! The Dashboard: the instance at a glance, the alerts an admin should look at,
//! and the latest audited activity.

use crate::AppError;
use crate::api::alerts::{AcknowledgeAlert, AlertInfo, list_alerts};
use crate::api::dashboard::dashboard_summary;
use crate::app::signed_in_user;
use crate::components::chrome::AlertBadge;
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{Card, OutcomeBadge, PageHeader, SECONDARY_BUTTON, Stat};
use leptos::prelude::*;
use magflock_types::time::{format_duration, format_utc};

#[component]
pub fn DashboardPage() -> impl IntoView {
    // Every resource of the page is made here, before anything waits (see
    // `WidgetsState`).
    let summary = Resource::new(|| (), |_| dashboard_summary());
    let acknowledge = ServerAction::<AcknowledgeAlert>::new();
    let alerts = Resource::new(move || acknowledge.version().get(), |_| list_alerts(false));
    let widgets = crate::pages::widgets::WidgetsState::new();
    let badge = use_context::<AlertBadge>();
    // The header's count follows what was acknowledged here.
    Effect::new(move |_| {
        if let Some(Ok(_)) = acknowledge.value().get()
            && let Some(AlertBadge(count)) = badge
        {
            count.refetch();
        }
    });
    let refresh = move |_| {
        summary.refetch();
        alerts.refetch();
        if let Some(AlertBadge(count)) = badge {
            count.refetch();
        }
    };
    view! {
        <PageHeader title="Dashboard" description="The instance at a glance."/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let greeting = signed_in_user().await.map(|u| format!("Signed in as {} ({}).", u.display_name, u.role.label())).unwrap_or_default();
                match summary.await {
                    Err(error) => view! { <ErrorPage error/> }.into_any(),
                    Ok(s) => view! {
                        <p class="mb-4 text-sm text-slate-600 dark:text-slate-400" data-testid="greeting">{greeting}</p>
                        <dl class="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-4">
                            <Stat label="Users" value=s.users_total.to_string() hint=format!("{} active", s.users_active)/>
                            <Stat label="Signed-in sessions" value=s.sessions_active.to_string()/>
                            <Stat label="Audit entries" value=s.audit_entries.to_string()/>
                            <Stat label="Uptime" value=format_duration(s.uptime_secs) hint=format!("v{} · {} store", s.version, s.store_engine)/>
                        </dl>
                        <AlertsCard alerts acknowledge/>
                        <crate::pages::widgets::WidgetsSection state=widgets/>
                        <div class="mt-6">
                            <Card title="Recent activity">
                                <ul class="divide-y divide-slate-200 dark:divide-slate-800" data-testid="recent-activity">
                                    {s.recent_activity.into_iter().map(|e| view! {
                                        <li class="flex flex-wrap items-center gap-x-3 gap-y-1 py-2 text-sm">
                                            <span class="font-mono text-xs text-slate-500">{format_utc(e.at)}</span>
                                            <span class="font-medium">{e.actor_label}</span>
                                            <span class="font-mono text-xs">{e.action}</span>
                                            <OutcomeBadge outcome=e.outcome/>
                                        </li>
                                    }).collect_view()}
                                </ul>
                                <a href="/audit" class="mt-3 inline-block text-sm font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Open the audit log"</a>
                            </Card>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
        <button type="button" class=format!("{SECONDARY_BUTTON} mt-4") data-testid="refresh-dashboard" on:click=refresh>"Refresh"</button>
    }
}

/// The open alerts (`#alerts`, where the header's badge leads), each with an
/// Acknowledge button for owners and admins.
#[component]
fn AlertsCard(
    alerts: Resource<Result<Vec<AlertInfo>, AppError>>,
    acknowledge: ServerAction<AcknowledgeAlert>,
) -> impl IntoView {
    let error = action_error(acknowledge);
    view! {
        <div id="alerts" tabindex="-1" class="mt-6 scroll-mt-4 rounded-lg focus:outline-none" data-testid="alerts">
            <Card title="Alerts">
                <div class="space-y-3">
                    <ErrorBanner error/>
                    {move || acknowledge.value().get().and_then(|r| r.ok()).map(|a| view! {
                        <p role="status" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">
                            {format!("Acknowledged: {} for {}. It stays in the audit log.", a.kind_label(), a.extension)}
                        </p>
                    })}
                    <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading alerts…"</p> }>
                        {move || Suspend::new(async move {
                            let can_acknowledge = signed_in_user().await.is_some_and(|u| u.role.can_manage());
                            match alerts.await {
                                Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                                Ok(list) if list.is_empty() => view! {
                                    <div class="text-sm" data-testid="no-alerts">
                                        <p class="font-medium text-emerald-700 dark:text-emerald-300">"No alerts: nothing needs your attention."</p>
                                        <p class="mt-1 text-slate-600 dark:text-slate-400">"An alert appears here when the health monitor disables an extension, the sandbox quarantines one, or an enable, start or upgrade fails."</p>
                                    </div>
                                }.into_any(),
                                Ok(list) => view! {
                                    {(!can_acknowledge).then(|| view! {
                                        <p class="rounded-md bg-slate-100 px-3 py-2 text-sm dark:bg-slate-800">"Your role can view alerts; an owner or admin acknowledges them."</p>
                                    })}
                                    <ul class="divide-y divide-slate-200 dark:divide-slate-800" data-testid="alert-list" aria-label="Unacknowledged alerts">
                                        {list.into_iter().map(|alert| view! { <AlertRow alert can_acknowledge acknowledge/> }).collect_view()}
                                    </ul>
                                }.into_any(),
                            }
                        })}
                    </Transition>
                </div>
            </Card>
        </div>
    }
}

#[component]
fn AlertRow(
    alert: AlertInfo,
    can_acknowledge: bool,
    acknowledge: ServerAction<AcknowledgeAlert>,
) -> impl IntoView {
    let colour = if alert.stopped_extension() {
        "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200"
    } else {
        "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200"
    };
    let label = alert.kind_label();
    let button_label = format!("Acknowledge alert: {label} for {}", alert.extension);
    let id = alert.id;
    view! {
        <li class="flex flex-wrap items-start justify-between gap-3 py-3" data-testid="alert" data-alert-id=id.to_string() data-kind=alert.kind.clone()>
            <div class="min-w-0 flex-1 space-y-1 text-sm">
                <div class="flex flex-wrap items-center gap-x-3 gap-y-1">
                    <span class=format!("inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{label}</span>
                    <span class="break-all font-mono text-xs font-medium">{alert.extension.clone()}</span>
                    <span class="whitespace-nowrap font-mono text-xs text-slate-500 dark:text-slate-400">{format_utc(alert.raised_at)}</span>
                </div>
                <p class="break-words text-slate-700 dark:text-slate-300">{alert.message.clone()}</p>
            </div>
            {can_acknowledge.then(|| view! {
                <ActionForm action=acknowledge>
                    <input type="hidden" name="id" value=id.to_string()/>
                    <button type="submit" class=SECONDARY_BUTTON aria-label=button_label disabled=move || acknowledge.pending().get()>"Acknowledge"</button>
                </ActionForm>
            })}
        </li>
    }
}
