//! Notifications anywhere in the console: each alert the monitor or the
//! sandbox raises while a page is open appears as a toast (`role="status"`,
//! in a polite live region, so screen readers announce it), without a reload.
//!
//! [`provide_live_alerts`] (called once by the console chrome) opens the
//! live connection to the `alerts` system channel and shares what arrives
//! ([`LiveAlerts`]) with the page below it; [`Notifications`] draws the
//! toasts. Alerts raised before the page opened are not toasted (the
//! Dashboard lists them).

use super::live::{LiveMessage, connect_live};
use crate::api::alerts::AlertInfo;
use crate::api::health::ALERTS_CHANNEL;
use leptos::prelude::*;
use magflock_types::time::format_utc;

/// Alerts raised since the page opened (oldest first); pages refetch what
/// they show when it grows.
#[derive(Clone, Copy)]
pub struct LiveAlerts {
    pub raised: ReadSignal<Vec<AlertInfo>>,
}

/// The toasts on screen (ids of dismissed ones are dropped).
#[derive(Clone, Copy)]
struct Toasts(RwSignal<Vec<AlertInfo>>);

const MAX_TOASTS: usize = 4;

/// Connects to the live alerts and provides [`LiveAlerts`] to everything
/// rendered after it in this owner.
pub fn provide_live_alerts() -> LiveAlerts {
    let (raised, set_raised) = signal(Vec::<AlertInfo>::new());
    let toasts = RwSignal::new(Vec::<AlertInfo>::new());
    connect_live(&[ALERTS_CHANNEL], move |message: LiveMessage| {
        if message.earlier {
            return;
        }
        let Ok(alert) = serde_json::from_value::<AlertInfo>(message.data) else {
            return;
        };
        set_raised.update(|all| all.push(alert.clone()));
        toasts.update(|shown| {
            shown.push(alert);
            let extra = shown.len().saturating_sub(MAX_TOASTS);
            shown.drain(..extra);
        });
    });
    let live = LiveAlerts { raised };
    provide_context(live);
    provide_context(Toasts(toasts));
    live
}

/// The toast region (bottom right), for the chrome.
#[component]
pub fn Notifications() -> impl IntoView {
    let toasts = use_context::<Toasts>().map(|t| t.0);
    let list = move || {
        toasts
            .map(|t| t.get())
            .unwrap_or_default()
            .into_iter()
            .rev()
            .map(|alert| {
                let id = alert.id;
                let colour = if alert.stopped_extension() {
                    "border-red-300 dark:border-red-800"
                } else {
                    "border-amber-300 dark:border-amber-700"
                };
                let dismiss_label = format!("Dismiss the notification about {}", alert.extension);
                view! {
                    <div
                        role="status"
                        class=format!("pointer-events-auto w-80 rounded-lg border-l-4 bg-white p-3 text-sm shadow-lg dark:bg-slate-900 {colour}")
                        data-testid="notification"
                        data-kind=alert.kind.clone()
                        data-extension=alert.extension.clone()
                    >
                        <div class="flex items-start justify-between gap-2">
                            <p class="font-semibold">{format!("{}: {}", alert.kind_label(), alert.extension)}</p>
                            <button
                                type="button"
                                class="rounded px-1 text-slate-500 hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:hover:bg-slate-800"
                                aria-label=dismiss_label
                                on:click=move |_| {
                                    if let Some(t) = toasts {
                                        t.update(|shown| shown.retain(|a| a.id != id));
                                    }
                                }
                            >"×"</button>
                        </div>
                        <p class="mt-1 break-words text-slate-700 dark:text-slate-300">{alert.message.clone()}</p>
                        <p class="mt-1 flex items-center justify-between text-xs text-slate-500">
                            <span class="font-mono">{format_utc(alert.raised_at)}</span>
                            <a href="/health" class="font-medium text-indigo-600 hover:underline dark:text-indigo-400">"Open Health"</a>
                        </p>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <div role="region" aria-live="polite" aria-label="Notifications" class="pointer-events-none fixed bottom-4 right-4 z-50 flex flex-col gap-2" data-testid="notifications">
            {list}
        </div>
    }
    .into_any()
}
