//! The Dashboard: the instance at a glance and the latest audited activity.

use crate::api::dashboard::dashboard_summary;
use crate::app::signed_in_user;
use crate::components::errors::ErrorPage;
use crate::components::ui::{Card, OutcomeBadge, PageHeader, SECONDARY_BUTTON, Stat};
use leptos::prelude::*;
use magflock_types::time::{format_duration, format_utc};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let summary = Resource::new(|| (), |_| dashboard_summary());
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
        <button type="button" class=format!("{SECONDARY_BUTTON} mt-4") data-testid="refresh-dashboard" on:click=move |_| summary.refetch()>"Refresh"</button>
    }
}
