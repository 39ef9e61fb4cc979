//! The console around every signed-in page: navigation (only what the role may
//! open), the instance name, the count of open alerts, the signed-in user, the
//! theme switch and sign-out.

use super::theme::ThemeToggle;
use super::ui::RoleBadge;
use crate::AppError;
use crate::api::alerts::list_alerts;
use crate::api::session::Logout;
use crate::api::widgets::{PanelLink, list_panels};
use crate::app::SessionResource;
use leptos::prelude::*;
use leptos_router::hooks::use_location;
use magflock_types::Role;

/// (path, label, least role that may open it).
const NAV: &[(&str, &str, Role)] = &[
    ("/", "Dashboard", Role::Auditor),
    ("/projects", "Projects", Role::Auditor),
    ("/marketplace", "Marketplace", Role::Auditor),
    ("/extensions", "Extensions", Role::Auditor),
    ("/approvals", "Approvals", Role::Auditor),
    ("/health", "Health", Role::Auditor),
    ("/events", "Events", Role::Auditor),
    ("/audit", "Audit Log", Role::Auditor),
    ("/users", "Users", Role::Admin),
    ("/settings", "Settings", Role::Auditor),
];

/// The header's count of unacknowledged alerts, fetched again on every
/// navigation; a page that acknowledges an alert refetches it.
#[derive(Clone, Copy)]
pub struct AlertBadge(pub Resource<Result<usize, AppError>>);

#[component]
pub fn Chrome(children: Children) -> impl IntoView {
    let location = use_location();
    let session = expect_context::<SessionResource>().0;
    let open_alerts = Resource::new(
        move || location.pathname.get(),
        |_| async { list_alerts(false).await.map(|alerts| alerts.len()) },
    );
    provide_context(AlertBadge(open_alerts));
    // Alerts raised while a page is open: a toast, and the header's count follows.
    let live = super::notifications::provide_live_alerts();
    Effect::new(move |_| {
        if !live.raised.read().is_empty() {
            open_alerts.refetch();
        }
    });
    // Extension panels join the navigation; looked up again on every
    // navigation, so an enabled or revoked one shows or goes at the next click.
    let panels = Resource::new(move || location.pathname.get(), |_| list_panels());
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            session.refetch();
        }
    });
    let signed_in = move || async move {
        session
            .await
            .ok()
            .and_then(|s| s.user.map(|u| (u, s.instance_name)))
    };
    let sidebar = move || {
        Suspend::new(async move {
            let Some((user, instance_name)) = signed_in().await else {
                return view! { <span class="px-4 py-4 text-sm font-semibold text-white">"MagFlock"</span> }.into_any();
            };
            let links = NAV
                .iter()
                .filter(|(_, _, min)| user.role.at_least(*min))
                .map(|(href, label, _)| {
                    let href = *href;
                    let active = move || {
                        let path = location.pathname.get();
                        if href == "/" { path == "/" } else { path.starts_with(href) }
                    };
                    view! {
                        <a
                            href=href
                            aria-current=move || active().then_some("page")
                            class="block whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-400 aria-[current=page]:bg-slate-800 aria-[current=page]:text-white"
                        >
                            {*label}
                        </a>
                    }
                })
                .collect_view();
            view! {
                <div class="flex items-center gap-2 px-4 py-4">
                    <span class="inline-flex h-8 w-8 items-center justify-center rounded-md bg-indigo-500 text-sm font-bold text-white" aria-hidden="true">"M"</span>
                    <span class="truncate text-sm font-semibold text-white" data-testid="instance-name">{instance_name}</span>
                </div>
                <nav aria-label="Main" class="flex gap-1 overflow-x-auto px-2 pb-3 md:flex-col md:overflow-visible">{links}</nav>
            }
            .into_any()
        })
    };
    let account = move || {
        Suspend::new(async move {
            signed_in().await.map(|(user, _)| {
                view! {
                    <a href="/account" class="flex items-center gap-2 rounded-md px-2 py-1 text-sm hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:hover:bg-slate-800" data-testid="current-user">
                        <span class="font-medium">{user.display_name}</span>
                        <RoleBadge role=user.role/>
                    </a>
                }
            })
        })
    };
    // Nothing at all when there is nothing to look at, or the count cannot be
    // had (signed out, database down): the page itself says what is wrong.
    let alert_badge = move || {
        Suspend::new(async move {
            let count = open_alerts.await.ok().filter(|n| *n > 0)?;
            let label = if count == 1 {
                "1 unacknowledged alert".to_string()
            } else {
                format!("{count} unacknowledged alerts")
            };
            Some(view! {
                <a
                    href="/#alerts"
                    data-testid="alert-badge"
                    data-count=count.to_string()
                    aria-label=label.clone()
                    title=label
                    class="inline-flex items-center gap-1.5 rounded-md px-2 py-1 text-sm font-medium text-amber-800 hover:bg-amber-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-amber-200 dark:hover:bg-amber-950/60"
                >
                    <svg aria-hidden="true" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" class="h-5 w-5">
                        <path d="M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 1.5h-15z"/>
                        <path d="M10 20.5a2 2 0 0 0 4 0"/>
                    </svg>
                    <span class="inline-flex min-w-5 justify-center rounded-full bg-red-600 px-1.5 py-0.5 text-xs font-semibold leading-none text-white">{count}</span>
                </a>
            })
        })
    };
    view! {
        <div class="min-h-screen md:flex">
            <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-slate-900">"Skip to content"</a>
            <aside class="bg-slate-900 md:flex md:w-60 md:flex-col">
                <Suspense fallback=|| ()>{sidebar}</Suspense>
                // Beside the sidebar's Suspense, not inside it: a boundary
                // created while another resolves gets a different hydration id
                // on the server (later) than in the browser (at once).
                <Transition fallback=|| ()>{move || Suspend::new(async move { panel_links(panels.await.unwrap_or_default()) })}</Transition>
            </aside>
            <div class="flex min-w-0 flex-1 flex-col">
                <header class="flex items-center justify-end gap-3 border-b border-slate-200 bg-white px-4 py-3 dark:border-slate-800 dark:bg-slate-900">
                    <Transition fallback=|| ()>{alert_badge}</Transition>
                    <ThemeToggle/>
                    <Suspense fallback=|| ()>{account}</Suspense>
                    <ActionForm action=logout>
                        <button type="submit" class="rounded-md px-2.5 py-1.5 text-sm text-slate-600 hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-slate-300 dark:hover:bg-slate-800">"Sign out"</button>
                    </ActionForm>
                </header>
                <main id="main" class="mx-auto w-full max-w-6xl flex-1 p-4 md:p-8">{children()}</main>
                <super::notifications::Notifications/>
            </div>
        </div>
    }
}

/// The extension panels' links, under the main navigation (nothing when none).
fn panel_links(panels: Vec<PanelLink>) -> Option<impl IntoView> {
    (!panels.is_empty()).then(|| {
        view! {
            <nav aria-label="Extension panels" class="flex gap-1 overflow-x-auto border-t border-slate-800 px-2 py-3 md:flex-col md:overflow-visible" data-testid="panel-links">
                <span class="px-3 pb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">"Panels"</span>
                {panels.into_iter().map(|p| {
                    let (href, hint) = (p.href(), format!("A panel of {}", p.extension));
                    view! {
                        <a href=href title=hint
                            class="block whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-800 hover:text-white focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-400">
                            {p.title}
                        </a>
                    }
                }).collect_view()}
            </nav>
        }
    })
}
