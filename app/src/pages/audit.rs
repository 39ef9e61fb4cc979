//! The Audit Log page: every recorded action of users and extensions
//! together, newest first, searched and filtered by actor, extension,
//! capability, action, outcome and date (UTC) through the URL (so a filtered
//! view can be bookmarked), paged backwards, exported as CSV or JSON with the
//! same filters, with chain verification on demand.

use crate::AppError;
use crate::api::audit::{FILTER_PARAMS, VerifyAuditChain, audit_entries, filter_from_query};
use crate::app::encode_query_value;
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{
    Card, DataTable, INPUT_CLASS, OutcomeBadge, PageHeader, SECONDARY_BUTTON,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use magflock_types::ChainReport;
use magflock_types::time::format_utc;

const PAGE_SIZE: u32 = 50;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|v| !v.trim().is_empty());
    let filter = move || filter_from_query(|key| query.read().get(key), PAGE_SIZE);
    let page = Resource::new(filter, audit_entries);
    let verify = ServerAction::<VerifyAuditChain>::new();
    let verify_error = action_error(verify);
    // The current filters as a query string, without the page cursor.
    let filters_query = move || {
        FILTER_PARAMS
            .iter()
            .filter_map(|k| param(k).map(|v| format!("{k}={}", encode_query_value(&v))))
            .collect::<Vec<_>>()
            .join("&")
    };
    let export_href = move |format: &str| {
        let q = filters_query();
        format!(
            "/audit/export?format={format}{}{q}",
            if q.is_empty() { "" } else { "&" }
        )
    };
    // Initial form values (the form reloads the page, so nothing to track).
    let value = move |key: &'static str| query.read_untracked().get(key).unwrap_or_default();
    view! {
        <PageHeader title="Audit Log" description="Every action of users and extensions (sign-ins, changes, approvals, every capability check), in a hash-chained log that cannot be edited."/>
        <div class="space-y-6">
            <Card>
                <div class="flex flex-wrap items-center justify-between gap-4">
                    <div>
                        <h2 class="text-base font-semibold">"Chain integrity"</h2>
                        <p class="text-sm text-slate-600 dark:text-slate-400">"Recomputes every entry's hash from the first one and reports the first broken link."</p>
                    </div>
                    <button type="button" class=SECONDARY_BUTTON data-testid="verify-chain" disabled=move || verify.pending().get() on:click=move |_| { verify.dispatch(VerifyAuditChain {}); }>
                        {move || if verify.pending().get() { "Verifying…" } else { "Verify chain" }}
                    </button>
                </div>
                <div class="mt-3">
                    <ErrorBanner error=verify_error/>
                    {move || verify.value().get().and_then(|r| r.ok()).map(|report| view! { <ChainStatus report/> })}
                </div>
            </Card>
            <Card>
                // A plain GET form and plain links: filtering and paging load the page
                // afresh from the server, so a filtered view is one bookmarkable URL.
                <form method="get" action="/audit" role="search" aria-label="Filter the audit log">
                    <div class="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
                        <FilterInput label="Search" name="q" value=value("q") placeholder="any text in the entry"/>
                        <FilterInput label="Actor" name="actor" value=value("actor") placeholder="email or extension"/>
                        <FilterInput label="Extension" name="extension" value=value("extension") placeholder="e.g. magflock/query-insights"/>
                        <FilterInput label="Capability" name="capability" value=value("capability") placeholder="e.g. database.read"/>
                        <FilterInput label="Action" name="action" value=value("action") placeholder="e.g. auth. or extension."/>
                        <div class="space-y-1">
                            <label for="filter-outcome" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Outcome"</label>
                            <select id="filter-outcome" name="outcome" class=INPUT_CLASS>
                                {["", "success", "failure", "denied"].into_iter().map(|o| {
                                    let selected = value("outcome") == o;
                                    let text = if o.is_empty() { "Any" } else { o };
                                    view! { <option value=o selected=selected>{text}</option> }
                                }).collect_view()}
                            </select>
                        </div>
                        <FilterInput label="From (UTC)" name="since" kind="date" value=value("since")/>
                        <FilterInput label="To (UTC)" name="until" kind="date" value=value("until")/>
                    </div>
                    <div class="mt-3 flex flex-wrap items-center gap-2">
                        <button type="submit" class=SECONDARY_BUTTON>"Filter"</button>
                        <a href="/audit" rel="external" class="px-2 py-1.5 text-sm text-slate-600 hover:underline dark:text-slate-300">"Clear"</a>
                        <span class="ml-auto text-sm text-slate-600 dark:text-slate-400">"Export these entries:"</span>
                        <a href=move || export_href("csv") rel="external" download class=SECONDARY_BUTTON data-testid="export-csv">"CSV"</a>
                        <a href=move || export_href("json") rel="external" download class=SECONDARY_BUTTON data-testid="export-json">"JSON"</a>
                    </div>
                </form>
            </Card>
            <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                        Ok(page) => {
                            let older = page.next_before_seq.map(|seq| {
                                let q = filters_query();
                                format!("/audit?{}{}before={seq}", q, if q.is_empty() { "" } else { "&" })
                            });
                            let newest = param("before").is_some().then(|| format!("/audit?{}", filters_query()));
                            view! {
                                <Card>
                                    <p class="mb-3 text-sm text-slate-600 dark:text-slate-400" data-testid="audit-total">{format!("{} matching {}", page.total_matching, if page.total_matching == 1 { "entry" } else { "entries" })}</p>
                                    <DataTable testid="audit-table" columns=vec!["#", "Time", "Actor", "Action", "Target", "Outcome", "Address", "Details"]>
                                                {page.entries.into_iter().map(|e| { let action = e.action.clone(); let detail = e.detail.clone(); view! {
                                                    <tr data-testid="audit-row" data-action=action>
                                                        <td class="py-2 pr-3 font-mono text-xs">{e.seq}</td>
                                                        <td class="whitespace-nowrap py-2 pr-3 font-mono text-xs">{format_utc(e.at)}</td>
                                                        <td class="py-2 pr-3"><span class="text-xs text-slate-500">{e.actor_kind.as_str()}" "</span>{e.actor_label}</td>
                                                        <td class="py-2 pr-3 font-mono text-xs">{e.action}</td>
                                                        <td class="py-2 pr-3">{e.target.unwrap_or_default()}</td>
                                                        <td class="py-2 pr-3"><OutcomeBadge outcome=e.outcome/></td>
                                                        <td class="py-2 pr-3 font-mono text-xs">{e.ip.unwrap_or_default()}</td>
                                                        <td class="max-w-xs truncate py-2 font-mono text-xs" title=detail>{e.detail}</td>
                                                    </tr>
                                                }}).collect_view()}
                                            </DataTable>
                                    <nav aria-label="Pages" class="mt-4 flex gap-3 text-sm">
                                        {newest.map(|href| view! { <a href=href rel="external" class="font-medium text-indigo-600 hover:underline dark:text-indigo-400">"← Newest"</a> })}
                                        {older.map(|href| view! { <a href=href rel="external" class="font-medium text-indigo-600 hover:underline dark:text-indigo-400" data-testid="older-entries">"Older entries →"</a> })}
                                    </nav>
                                </Card>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn FilterInput(
    label: &'static str,
    name: &'static str,
    value: String,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] placeholder: &'static str,
) -> impl IntoView {
    let id = format!("filter-{name}");
    view! {
        <div class="space-y-1">
            <label for=id.clone() class="block text-xs font-medium text-slate-600 dark:text-slate-300">{label}</label>
            <input id=id name=name type=kind value=value placeholder=placeholder class=INPUT_CLASS/>
        </div>
    }
}

#[component]
fn ChainStatus(report: ChainReport) -> impl IntoView {
    match report.first_broken {
        None => view! {
            <p role="status" data-testid="chain-status" data-intact="true" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">
                {format!("Chain intact: all {} entries verified.", report.entries_checked)}
            </p>
        }.into_any(),
        Some(broken) => view! {
            <p role="alert" data-testid="chain-status" data-intact="false" class="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-200">
                {format!("Chain broken at entry #{}: {}.", broken.seq, broken.reason)}
            </p>
        }.into_any(),
    }
}
