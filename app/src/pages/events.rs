//! The Events page: the newest events on the bus by category (the part of
//! the type before the first dot) and type, filtered and paged through the
//! URL (`?category=&type=&before=`); each subscriber's lag; and the dead
//! letters (`?subscriber=` narrows them) with replay, which owners and
//! admins confirm (one event, or all of a subscriber) and which is audited.

use crate::AppError;
use crate::api::event_log::{
    COUNT_WINDOW, Count, DeadLetterInfo, EventQuery, EventsPage, RequeueDeadLetters,
    SubscriberInfo, dead_letters, event_subscribers, recent_events,
};
use crate::app::{encode_query_value, signed_in_user};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{
    Card, DataTable, INPUT_CLASS, PRIMARY_BUTTON, PageHeader, SECONDARY_BUTTON,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use magflock_types::time::format_utc;

const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";

#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|v| !v.trim().is_empty());
    let events_query = move || EventQuery {
        category: param("category"),
        event_type: param("type"),
        before: param("before").and_then(|b| b.parse().ok()),
    };
    let requeue = ServerAction::<RequeueDeadLetters>::new();
    let page = Resource::new(events_query, recent_events);
    let subscribers = Resource::new(move || requeue.version().get(), |_| event_subscribers());
    let letters = Resource::new(
        move || (param("subscriber"), requeue.version().get()),
        |(subscriber, _)| dead_letters(subscriber),
    );
    // Initial form values (the filter form reloads the page).
    let value = move |key: &'static str| query.read_untracked().get(key).unwrap_or_default();
    // What the page was opened with (filtering and paging load it afresh).
    let fixed = move |key: &str| {
        query
            .read_untracked()
            .get(key)
            .filter(|v| !v.trim().is_empty())
    };
    view! {
        <PageHeader title="Events" description="What happened on the event bus, who is behind on it, and the events a subscriber gave up on."/>
        <div class="space-y-6">
            <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                        Ok(page) => {
                            let filters = (fixed("category"), fixed("type"));
                            view! { <Recent page filters category=value("category") event_type=value("type")/> }.into_any()
                        }
                    }
                })}
            </Suspense>
            <Card title="Subscribers">
                <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">"Each subscriber's lag is how many events were published after the last one it acknowledged."</p>
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match subscribers.await {
                            Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                            Ok(list) if list.is_empty() => view! { <p class="text-sm text-slate-600 dark:text-slate-400" data-testid="no-subscribers">"Nobody subscribes to events yet: an extension that subscribes appears here once enabled."</p> }.into_any(),
                            Ok(list) => view! { <Subscribers list/> }.into_any(),
                        }
                    })}
                </Transition>
            </Card>
            <DeadLetters letters requeue subscriber=fixed("subscriber")/>
        </div>
    }
    .into_any()
}

#[component]
fn Recent(
    page: EventsPage,
    filters: (Option<String>, Option<String>),
    category: String,
    event_type: String,
) -> impl IntoView {
    let (chosen_category, chosen_type) = filters;
    let filter_query = {
        let mut parts = Vec::new();
        if let Some(c) = &chosen_category {
            parts.push(format!("category={}", encode_query_value(c)));
        }
        if let Some(t) = &chosen_type {
            parts.push(format!("type={}", encode_query_value(t)));
        }
        parts.join("&")
    };
    let older = page.next_before.map(|seq| {
        let sep = if filter_query.is_empty() { "" } else { "&" };
        format!("/events?{filter_query}{sep}before={seq}")
    });
    let newest = (page.events.first().is_some_and(|e| e.seq < page.head))
        .then(|| format!("/events?{filter_query}"));
    let total: u64 = page.categories.iter().map(|c| c.count).sum();
    let category_options = page.categories.clone();
    view! {
        <Card title="Recent events">
            <div class="space-y-4">
                <div>
                    <h3 class="text-sm font-semibold">{format!("By category (the newest {} events)", page.counted.min(COUNT_WINDOW))}</h3>
                    {(total == 0).then(|| view! { <p class="mt-2 text-sm text-slate-600 dark:text-slate-400" data-testid="no-events">"No events were published yet."</p> })}
                    <ul class="mt-2 flex flex-wrap gap-2" data-testid="categories">
                        {page.categories.iter().map(|c| view! { <CountLink count=c.clone() param="category" chosen=chosen_category.clone() total/> }).collect_view()}
                    </ul>
                </div>
                {(!page.types.is_empty()).then(|| view! {
                    <div>
                        <h3 class="text-sm font-semibold">{match &chosen_category { Some(c) => format!("Types in {c}"), None => "Types".to_string() }}</h3>
                        <ul class="mt-2 flex flex-wrap gap-2" data-testid="types">
                            {page.types.iter().take(20).map(|t| view! { <CountLink count=t.clone() param="type" chosen=chosen_type.clone() total/> }).collect_view()}
                        </ul>
                    </div>
                })}
                <form method="get" action="/events" class="grid gap-3 sm:grid-cols-3">
                    <div class="space-y-1">
                        <label for="filter-category" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Category"</label>
                        <select id="filter-category" name="category" class=INPUT_CLASS>
                            <option value="" selected=category.is_empty()>"All categories"</option>
                            {category_options.into_iter().map(|c| { let selected = c.name == category; view! { <option value=c.name.clone() selected=selected>{c.name.clone()}</option> } }).collect_view()}
                        </select>
                    </div>
                    <div class="space-y-1">
                        <label for="filter-type" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Type"</label>
                        <input id="filter-type" name="type" value=event_type placeholder="e.g. extension.enabled or auth.user." class=INPUT_CLASS/>
                    </div>
                    <div class="flex items-end gap-2">
                        <button type="submit" class=SECONDARY_BUTTON>"Filter"</button>
                        <a href="/events" rel="external" class="px-2 py-1.5 text-sm text-slate-600 hover:underline dark:text-slate-300">"Clear"</a>
                    </div>
                </form>
                {if page.events.is_empty() {
                    view! { <p class="text-sm text-slate-600 dark:text-slate-400" data-testid="no-matching-events">"No event matches these filters."</p> }.into_any()
                } else {
                    view! {
                        <DataTable testid="events-table" columns=vec!["#", "Time", "Type", "Source", "Data"]>
                                    {page.events.into_iter().map(|e| view! {
                                        <tr data-testid="event-row" data-type=e.event_type.clone() data-category=e.category.clone()>
                                            <td class="py-2 pr-3 font-mono text-xs">{e.seq}</td>
                                            <td class="whitespace-nowrap py-2 pr-3 font-mono text-xs">{e.timestamp.clone()}</td>
                                            <td class="py-2 pr-3 font-mono text-xs">{e.event_type.clone()}</td>
                                            <td class="py-2 pr-3 text-xs">{e.source.clone()}</td>
                                            <td class="max-w-md py-2 font-mono text-xs">
                                                <details>
                                                    <summary class="cursor-pointer truncate">{e.data.chars().take(80).collect::<String>()}</summary>
                                                    <pre class="mt-1 whitespace-pre-wrap break-all">{e.data.clone()}</pre>
                                                </details>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </DataTable>
                    }.into_any()
                }}
                <nav aria-label="Pages" class="flex gap-3 text-sm">
                    {newest.map(|href| view! { <a href=href rel="external" class=LINK>"← Newest"</a> })}
                    {older.map(|href| view! { <a href=href rel="external" class=LINK data-testid="older-events">"Older events →"</a> })}
                </nav>
            </div>
        </Card>
    }
    .into_any()
}

/// A category or type with its count, linking to the filtered list.
#[component]
fn CountLink(
    count: Count,
    param: &'static str,
    chosen: Option<String>,
    total: u64,
) -> impl IntoView {
    let here = chosen.as_deref() == Some(count.name.as_str());
    let href = format!("/events?{param}={}", encode_query_value(&count.name));
    let share = (count.count * 100).checked_div(total).unwrap_or(0);
    let class = if here {
        "border-indigo-500 bg-indigo-50 dark:bg-indigo-950"
    } else {
        "border-slate-200 bg-white dark:border-slate-700 dark:bg-slate-900"
    };
    view! {
        <li>
            <a href=href rel="external" aria-current=here.then_some("page") data-testid="count" data-name=count.name.clone() data-count=count.count.to_string()
                class=format!("inline-flex items-center gap-2 rounded-md border px-2 py-1 text-xs hover:border-indigo-400 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 {class}")>
                <span class="font-mono font-medium">{count.name.clone()}</span>
                <span class="rounded bg-slate-100 px-1 font-semibold dark:bg-slate-800">{count.count}</span>
                <span class="text-slate-500" aria-label=format!("{share} percent")>{format!("{share}%")}</span>
            </a>
        </li>
    }
    .into_any()
}

#[component]
fn Subscribers(list: Vec<SubscriberInfo>) -> impl IntoView {
    view! {
        <DataTable testid="subscribers" columns=vec!["Subscriber", "Patterns", "Acknowledged up to", "Lag", "Dead letters"]>
                    {list.into_iter().map(|s| {
                        let lag_class = if s.lag > 100 { "font-semibold text-amber-700 dark:text-amber-300" } else { "" };
                        let letters_href = format!("/events?subscriber={}#dead-letters", encode_query_value(&s.id));
                        view! {
                            <tr data-testid="subscriber" data-subscriber=s.id.clone() data-lag=s.lag.to_string()>
                                <td class="py-2 pr-3">
                                    <span class="font-mono text-xs">{s.id.clone()}</span>
                                    {s.extension.clone().map(|e| { let href = format!("/extensions/{e}"); view! { <div><a href=href class=format!("{LINK} text-xs")>{e}</a></div> } })}
                                </td>
                                <td class="py-2 pr-3 font-mono text-xs">{s.patterns.join(", ")}</td>
                                <td class="py-2 pr-3 font-mono text-xs">{s.acked_seq}</td>
                                <td class=format!("py-2 pr-3 font-mono text-xs {lag_class}")>{format!("{} behind", s.lag)}</td>
                                <td class="py-2 text-xs">
                                    {if s.dead_letters == 0 {
                                        view! { <span>"none"</span> }.into_any()
                                    } else {
                                        view! { <a href=letters_href rel="external" class=LINK>{format!("{} waiting", s.dead_letters)}</a> }.into_any()
                                    }}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </DataTable>
    }
    .into_any()
}

#[component]
fn DeadLetters(
    letters: Resource<Result<Vec<DeadLetterInfo>, AppError>>,
    requeue: ServerAction<RequeueDeadLetters>,
    subscriber: Option<String>,
) -> impl IntoView {
    let error = action_error(requeue);
    let busy = Signal::derive(move || requeue.pending().get());
    let heading = match &subscriber {
        Some(s) => format!("Dead letters of {s}"),
        None => "Dead letters".to_string(),
    };
    view! {
        <div id="dead-letters" class="scroll-mt-4">
            <Card title=heading>
                <div class="space-y-3">
                    <p class="text-sm text-slate-600 dark:text-slate-400">"Events a subscriber failed to handle after every retry. Replaying delivers them to it again, first, with a fresh count of attempts."</p>
                    {subscriber.is_some().then(|| view! { <a href="/events#dead-letters" rel="external" class=format!("{LINK} text-sm")>"Show every subscriber's"</a> })}
                    <ErrorBanner error/>
                    {move || requeue.value().get().and_then(|r| r.ok()).map(|done| view! {
                        <p role="status" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200" data-testid="requeue-outcome">
                            {match done.seq {
                                Some(seq) => format!("Event {seq} goes to {} again at its next delivery.", done.subscriber),
                                None => format!("{} dead letters go to {} again, first, at its next delivery.", done.count, done.subscriber),
                            }}
                        </p>
                    })}
                    <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            let can_replay = signed_in_user().await.is_some_and(|u| u.role.can_manage());
                            match letters.await {
                                Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                                Ok(list) if list.is_empty() => view! { <p class="text-sm text-emerald-700 dark:text-emerald-300" data-testid="no-dead-letters">"No dead letters: every subscriber handled what it received."</p> }.into_any(),
                                Ok(list) => view! { <LetterTable list can_replay requeue busy/> }.into_any(),
                            }
                        })}
                    </Transition>
                </div>
            </Card>
        </div>
    }
    .into_any()
}

#[component]
fn LetterTable(
    list: Vec<DeadLetterInfo>,
    can_replay: bool,
    requeue: ServerAction<RequeueDeadLetters>,
    busy: Signal<bool>,
) -> impl IntoView {
    let mut subscribers: Vec<(String, usize)> = Vec::new();
    for letter in &list {
        match subscribers
            .iter_mut()
            .find(|(s, _)| *s == letter.subscriber)
        {
            Some((_, n)) => *n += 1,
            None => subscribers.push((letter.subscriber.clone(), 1)),
        }
    }
    let mut columns = vec![
        "Subscriber",
        "Event",
        "Attempts",
        "Last error",
        "Given up (UTC)",
    ];
    if can_replay {
        columns.push("Replay");
    }
    view! {
        {(!can_replay).then(|| view! { <p class="rounded-md bg-slate-100 px-3 py-2 text-sm dark:bg-slate-800">"Your role can see dead letters; an owner or admin replays them."</p> })}
        {can_replay.then(|| view! {
            <div class="flex flex-wrap gap-3">
                {subscribers.into_iter().map(|(subscriber, n)| {
                    let explain = format!("Deliver all {n} dead letters of {subscriber} again? They go to it first, in order, at its next delivery; each gets a fresh count of attempts. The replay is recorded in the audit log.");
                    let summary = format!("Replay all of {subscriber}…");
                    let marker = subscriber.clone();
                    view! {
                        <details class="text-sm" data-testid="confirm-replay-all" data-subscriber=marker>
                            <summary class=format!("{SECONDARY_BUTTON} cursor-pointer list-none")>{summary}</summary>
                            <div class="mt-2 max-w-md space-y-2 rounded-md border border-slate-200 bg-white p-3 shadow-sm dark:border-slate-700 dark:bg-slate-900">
                                <p>{explain}</p>
                                <ActionForm action=requeue>
                                    <input type="hidden" name="subscriber" value=subscriber/>
                                    <button type="submit" class=PRIMARY_BUTTON disabled=busy>"Yes, replay them all"</button>
                                </ActionForm>
                            </div>
                        </details>
                    }
                }).collect_view()}
            </div>
        })}
        <DataTable testid="dead-letters" columns>
            {list.into_iter().map(|d| {
                let label = format!("Replay event {} to {}", d.seq, d.subscriber);
                let target = d.subscriber.clone();
                view! {
                    <tr data-testid="dead-letter" data-subscriber=d.subscriber.clone() data-seq=d.seq.to_string()>
                        <td class="py-2 pr-3 font-mono text-xs">{d.subscriber.clone()}</td>
                        <td class="py-2 pr-3 font-mono text-xs">{format!("#{} {}", d.seq, d.event_type)}</td>
                        <td class="py-2 pr-3 text-xs">{d.attempts}</td>
                        <td class="max-w-xs break-words py-2 pr-3 text-xs">{d.last_error.clone()}</td>
                        <td class="whitespace-nowrap py-2 pr-3 font-mono text-xs">{format_utc(d.dead_at)}</td>
                        {can_replay.then(|| view! {
                            <td class="py-2">
                                <ActionForm action=requeue>
                                    <input type="hidden" name="subscriber" value=target.clone()/>
                                    <input type="hidden" name="seq" value=d.seq.to_string()/>
                                    <button type="submit" class=SECONDARY_BUTTON aria-label=label disabled=busy>"Replay"</button>
                                </ActionForm>
                            </td>
                        })}
                    </tr>
                }
            }).collect_view()}
        </DataTable>
    }
    .into_any()
}
