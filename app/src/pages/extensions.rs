//! The Extensions pages: every installed extension with its state, version,
//! signature and capabilities (`/extensions`), and one extension in full
//! (`/extensions/<publisher>/<name>`): statistics, versions, and the
//! lifecycle actions (enable, disable, upgrade to a chosen version, roll
//! back, uninstall, revoke or re-grant one capability live).
//!
//! Every action first says what it will do and asks to confirm; while the
//! lifecycle works the page shows the journal's current step, then the
//! outcome or the lifecycle's own sentence. Owners and admins get the
//! controls; auditors see everything else, and the server refuses them
//! anyway.

use crate::AppError;
use crate::api::extensions::{
    ActionDone, CapabilityInfo, DisableExtension, EnableExtension, ExtensionDetail,
    ExtensionSummary, GrantCapability, OperationInfo, RevokeCapability, RollbackExtension,
    UninstallExtension, UpgradeExtension, extension_progress, get_extension, list_extensions,
    signature_label, step_label,
};
use crate::api::health::{format_bytes, format_count, format_latency};
use crate::app::signed_in_user;
use crate::components::errors::{ErrorBanner, ErrorPage};
use crate::components::ui::{
    Card, DANGER_BUTTON, DataTable, INPUT_CLASS, PRIMARY_BUTTON, PageHeader, SECONDARY_BUTTON,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use magflock_types::time::format_utc;
use std::time::Duration;

const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";
const SUCCESS: &str = "rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200";
const NOTE: &str = "rounded-md bg-slate-100 px-3 py-2 text-sm dark:bg-slate-800";

/// An extension's state as a coloured label.
#[component]
pub fn StateBadge(#[prop(into)] state: String, #[prop(into)] label: String) -> impl IntoView {
    let colour = match state.as_str() {
        "enabled" => "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
        "quarantined" | "failed" => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
        "upgrading" | "busy" => "bg-sky-100 text-sky-800 dark:bg-sky-900/60 dark:text-sky-200",
        _ => "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
    };
    view! {
        <span class=format!("inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium {colour}") data-testid="state" data-state=state>{label}</span>
    }
    .into_any()
}

/// A capability's risk as a coloured label.
#[component]
pub fn RiskBadge(#[prop(into)] risk: String) -> impl IntoView {
    let colour = match risk.as_str() {
        "low" => "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
        "medium" => "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200",
        "high" => "bg-orange-100 text-orange-800 dark:bg-orange-900/60 dark:text-orange-200",
        _ => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
    };
    view! {
        <span class=format!("inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{format!("{risk} risk")}</span>
    }
    .into_any()
}

#[component]
fn SignatureBadge(#[prop(into)] level: String) -> impl IntoView {
    let colour = match level.as_str() {
        "first_party" => "bg-purple-100 text-purple-800 dark:bg-purple-900/60 dark:text-purple-200",
        "verified_publisher" => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
        _ => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
    };
    view! {
        <span class=format!("inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{signature_label(&level)}</span>
    }
    .into_any()
}

/// A capability name with its plain-language meaning on hover.
#[component]
fn CapabilityChip(info: CapabilityInfo, granted: bool) -> impl IntoView {
    let colour = if granted {
        "border-slate-300 bg-white dark:border-slate-700 dark:bg-slate-900"
    } else {
        "border-dashed border-slate-300 bg-slate-50 text-slate-500 dark:border-slate-700 dark:bg-slate-950"
    };
    let title = format!("{} ({} risk)", info.description, info.risk);
    let marker = info.name.clone();
    let dot = match info.risk.as_str() {
        "low" => "bg-slate-400",
        "medium" => "bg-amber-500",
        "high" => "bg-orange-500",
        _ => "bg-red-600",
    };
    let risk = format!("{} risk", info.risk);
    view! {
        <li class=format!("inline-flex items-center gap-1 rounded border px-1.5 py-0.5 font-mono text-xs {colour}") title=title data-capability=marker>
            <span class=format!("inline-block h-1.5 w-1.5 rounded-full {dot}") aria-hidden="true"></span>
            {info.name}
            <span class="sr-only">{risk}</span>
        </li>
    }
    .into_any()
}

#[component]
pub fn ExtensionsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_extensions());
    view! {
        <PageHeader title="Extensions" description="Every installed extension: what state it is in, which version runs, who signed it and what it may do."/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <Card>
                            <div class="space-y-2 text-sm" data-testid="no-extensions">
                                <p class="font-medium">"No extension is installed yet."</p>
                                <p class="text-slate-600 dark:text-slate-400">"Find one in the Marketplace: installing asks an owner or admin to approve the capabilities it requests."</p>
                                <a href="/marketplace" class=LINK>"Browse the Marketplace →"</a>
                            </div>
                        </Card>
                    }.into_any(),
                    Ok(list) => view! {
                        <Card>
                            <DataTable testid="extensions-table" columns=vec!["Extension", "Version", "State", "Signature", "Capabilities"]>
                                        {list.into_iter().map(|e| view! { <ExtensionRow summary=e/> }).collect_view()}
                                    </DataTable>
                            <p class="mt-3 flex flex-wrap items-center gap-3 text-xs text-slate-500 dark:text-slate-400">
                                <span>"Risk:"</span>
                                <span class="inline-flex items-center gap-1"><span class="inline-block h-1.5 w-1.5 rounded-full bg-slate-400" aria-hidden="true"></span>"low"</span>
                                <span class="inline-flex items-center gap-1"><span class="inline-block h-1.5 w-1.5 rounded-full bg-amber-500" aria-hidden="true"></span>"medium"</span>
                                <span class="inline-flex items-center gap-1"><span class="inline-block h-1.5 w-1.5 rounded-full bg-orange-500" aria-hidden="true"></span>"high"</span>
                                <span class="inline-flex items-center gap-1"><span class="inline-block h-1.5 w-1.5 rounded-full bg-red-600" aria-hidden="true"></span>"critical"</span>
                                <span>"· Point at a capability for what it allows; open an extension to act on it."</span>
                            </p>
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn ExtensionRow(summary: ExtensionSummary) -> impl IntoView {
    let href = format!("/extensions/{}", summary.id);
    let label = summary.state_label();
    let none_granted = summary.granted.is_empty();
    view! {
        <tr data-testid="extension-row" data-extension=summary.id.clone()>
            <td class="py-3 pr-4 align-top">
                <a href=href class=LINK>{summary.name.clone()}</a>
                <div class="font-mono text-xs text-slate-500">{summary.id.clone()}</div>
            </td>
            <td class="py-3 pr-4 align-top font-mono text-xs">
                {summary.version.clone()}
                {summary.previous_version.clone().map(|v| view! { <div class="text-slate-500">{format!("previous {v} kept")}</div> })}
            </td>
            <td class="py-3 pr-4 align-top">
                <StateBadge state=summary.state.clone() label/>
                {summary.operation.clone().map(|op| view! { <div class="mt-1 text-xs text-slate-500">{format!("step: {}", step_label(&op.step))}</div> })}
                {summary.reason.clone().map(|r| view! { <div class="mt-1 max-w-xs break-words text-xs text-red-700 dark:text-red-300">{r}</div> })}
            </td>
            <td class="py-3 pr-4 align-top"><SignatureBadge level=summary.signature_level.clone()/></td>
            <td class="py-3 align-top">
                <ul class="flex flex-wrap gap-1" aria-label="Granted capabilities">
                    {summary.granted.into_iter().map(|c| view! { <CapabilityChip info=c granted=true/> }).collect_view()}
                </ul>
                {none_granted.then(|| view! { <p class="text-xs text-slate-500">"None granted."</p> })}
                {(!summary.not_granted.is_empty()).then(|| view! {
                    <div class="mt-1">
                        <span class="text-xs text-slate-500">"Requested, not granted:"</span>
                        <ul class="mt-0.5 flex flex-wrap gap-1" aria-label="Requested but not granted">
                            {summary.not_granted.into_iter().map(|c| view! { <CapabilityChip info=c granted=false/> }).collect_view()}
                        </ul>
                    </div>
                })}
            </td>
        </tr>
    }
    .into_any()
}

/// Every action of the detail page, and what they share: one at a time,
/// the journal's step while one runs, the last outcome.
#[derive(Clone, Copy)]
struct Actions {
    enable: ServerAction<EnableExtension>,
    disable: ServerAction<DisableExtension>,
    upgrade: ServerAction<UpgradeExtension>,
    rollback: ServerAction<RollbackExtension>,
    uninstall: ServerAction<UninstallExtension>,
    revoke: ServerAction<RevokeCapability>,
    grant: ServerAction<GrantCapability>,
    /// The last finished action's result.
    outcome: RwSignal<Option<Result<ActionDone, AppError>>>,
    /// The lifecycle's operation while an action runs.
    progress: RwSignal<Option<OperationInfo>>,
}

impl Actions {
    fn new() -> Actions {
        Actions {
            enable: ServerAction::new(),
            disable: ServerAction::new(),
            upgrade: ServerAction::new(),
            rollback: ServerAction::new(),
            uninstall: ServerAction::new(),
            revoke: ServerAction::new(),
            grant: ServerAction::new(),
            outcome: RwSignal::new(None),
            progress: RwSignal::new(None),
        }
    }

    fn pending(self) -> bool {
        self.enable.pending().get()
            || self.disable.pending().get()
            || self.upgrade.pending().get()
            || self.rollback.pending().get()
            || self.uninstall.pending().get()
            || self.revoke.pending().get()
            || self.grant.pending().get()
    }

    /// Changes whenever an action that leaves the extension installed finishes.
    fn changed(self) -> usize {
        self.enable.version().get()
            + self.disable.version().get()
            + self.upgrade.version().get()
            + self.rollback.version().get()
            + self.revoke.version().get()
            + self.grant.version().get()
    }

    /// Changes whenever any action finishes.
    fn finished(self) -> usize {
        self.changed() + self.uninstall.version().get()
    }

    /// Copies each action's result into `outcome` as it arrives.
    fn follow(self) {
        let outcome = self.outcome;
        Effect::new(move |_| {
            if let Some(r) = self.enable.value().get() {
                outcome.set(Some(r));
            }
        });
        Effect::new(move |_| {
            if let Some(r) = self.disable.value().get() {
                outcome.set(Some(r));
            }
        });
        Effect::new(move |_| {
            if let Some(r) = self.upgrade.value().get() {
                outcome.set(Some(r));
            }
        });
        Effect::new(move |_| {
            if let Some(r) = self.rollback.value().get() {
                outcome.set(Some(r));
            }
        });
        Effect::new(move |_| {
            if let Some(r) = self.uninstall.value().get() {
                outcome.set(Some(r));
            }
        });
        Effect::new(move |_| {
            if let Some(r) = self.revoke.value().get() {
                outcome.set(Some(r));
            }
        });
        Effect::new(move |_| {
            if let Some(r) = self.grant.value().get() {
                outcome.set(Some(r));
            }
        });
    }

    /// Asks the server for the journal's step every half second while an
    /// action runs (in the browser).
    fn poll_progress(self, id: Memo<String>) {
        let progress = self.progress;
        Effect::new(move |running: Option<Option<IntervalHandle>>| {
            if let Some(Some(handle)) = running {
                handle.clear();
            }
            if !self.pending() {
                progress.set(None);
                return None;
            }
            let id = id.get_untracked();
            set_interval_with_handle(
                move || {
                    let id = id.clone();
                    leptos::task::spawn_local(async move {
                        if let Ok(step) = extension_progress(id).await {
                            progress.set(step);
                        }
                    });
                },
                Duration::from_millis(500),
            )
            .ok()
        });
    }

    fn uninstalled(self) -> Option<ActionDone> {
        self.uninstall.value().get().and_then(|r| r.ok())
    }
}

#[component]
pub fn ExtensionPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        let p = params.read();
        format!(
            "{}/{}",
            p.get("publisher").unwrap_or_default(),
            p.get("name").unwrap_or_default()
        )
    });
    let actions = Actions::new();
    provide_context(actions);
    actions.follow();
    actions.poll_progress(id);
    let detail = Resource::new(
        move || (id.get(), actions.changed()),
        |(id, _)| get_extension(id),
    );
    view! {
        <p class="mb-4 text-sm"><a href="/extensions" class=LINK>"← All extensions"</a></p>
        {move || actions.uninstalled().map(|done| view! {
            <PageHeader title="Extension uninstalled"/>
            <Card>
                <p role="status" class=SUCCESS data-testid="action-outcome">{done.message}</p>
                <a href="/extensions" class=format!("{LINK} mt-3 inline-block text-sm")>"Back to the installed extensions"</a>
            </Card>
        })}
        <Show when=move || actions.uninstall.value().get().and_then(|r| r.ok()).is_none()>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let can_act = signed_in_user().await.is_some_and(|u| u.role.can_manage());
                    match detail.await {
                        Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                        Err(AppError::NotFound(message)) => view! { <NotInstalled id=id.get_untracked() message/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                        Ok(detail) => view! { <Detail detail can_act actions/> }.into_any(),
                    }
                })}
            </Transition>
        </Show>
    }
    .into_any()
}

/// The page of an extension that is not (or no longer) installed.
#[component]
fn NotInstalled(id: String, message: String) -> impl IntoView {
    let listing = format!("/marketplace/{id}");
    view! {
        <PageHeader title="Extension not installed"/>
        <Card>
            <div class="space-y-2 text-sm" data-testid="not-installed">
                <p>{message}</p>
                <p class="text-slate-600 dark:text-slate-400">"It may have been uninstalled, or never installed here."</p>
                <p class="flex flex-wrap gap-4">
                    <a href=listing class=LINK>"See it in the Marketplace"</a>
                    <a href="/extensions" class=LINK>"The installed extensions"</a>
                </p>
            </div>
        </Card>
    }
    .into_any()
}

#[component]
fn Detail(detail: ExtensionDetail, can_act: bool, actions: Actions) -> impl IntoView {
    let s = detail.summary.clone();
    let title = s.name.clone();
    let label = s.state_label();
    view! {
        <PageHeader title=title description=detail.description.clone()/>
        <div class="space-y-6" data-testid="extension-detail" data-extension=s.id.clone() data-state=s.state.clone()>
            <div class="flex flex-wrap items-center gap-3 text-sm">
                <span class="font-mono text-xs">{s.id.clone()}</span>
                <span class="font-mono text-xs" data-testid="version">{format!("version {}", s.version)}</span>
                <StateBadge state=s.state.clone() label/>
                <SignatureBadge level=s.signature_level.clone()/>
                {(!detail.publisher.is_empty()).then(|| view! { <span class="text-xs text-slate-500">{format!("by {}", detail.publisher)}</span> })}
            </div>
            {s.reason.clone().map(|reason| view! {
                <p class="rounded-md border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200" data-testid="state-reason">
                    {format!("{}: {reason}", s.state_label())}
                </p>
            })}
            {s.operation.clone().map(|op| view! {
                <p role="status" class=NOTE>{format!("A lifecycle operation is in progress: {} (step: {}), started {}.", op.operation, step_label(&op.step), format_utc(op.started_at))}</p>
            })}
            <ActionStatus actions/>
            {if can_act {
                view! { <ActionsCard detail=detail.clone() actions/> }.into_any()
            } else {
                view! { <p class=NOTE data-testid="read-only">"Your role can see this extension but not change it; an owner or admin acts on it."</p> }.into_any()
            }}
            <CapabilitiesCard summary=s.clone() can_act actions/>
            <StatsCard detail=detail.clone()/>
            <VersionsCard detail/>
        </div>
    }
    .into_any()
}

/// While an action runs, the lifecycle's step; then its outcome.
#[component]
fn ActionStatus(actions: Actions) -> impl IntoView {
    view! {
        <div aria-live="polite">
            {move || {
                if actions.pending() {
                    let step = actions.progress.get().map(|op| format!("{}: {}", op.operation, step_label(&op.step))).unwrap_or_else(|| "starting".into());
                    return view! {
                        <p role="status" class="flex items-center gap-2 rounded-md bg-sky-50 px-3 py-2 text-sm text-sky-900 dark:bg-sky-950 dark:text-sky-100" data-testid="action-progress">
                            <span class="inline-block h-3 w-3 animate-spin rounded-full border-2 border-sky-600 border-t-transparent" aria-hidden="true"></span>
                            {format!("Working… {step}")}
                        </p>
                    }.into_any();
                }
                match actions.outcome.get() {
                    None => ().into_any(),
                    Some(Ok(done)) => view! {
                        <div role="status" class=SUCCESS data-testid="action-outcome">
                            <p>{done.message.clone()}</p>
                            {done.request.clone().map(|_| view! { <a href="/approvals" class=format!("{LINK} mt-1 inline-block") data-testid="approval-link">"Open Approvals to decide →"</a> })}
                        </div>
                    }.into_any(),
                    Some(Err(error)) => view! {
                        <div data-testid="action-error"><ErrorBanner error=Signal::derive(move || Some(error.clone()))/></div>
                    }.into_any(),
                }
            }}
        </div>
    }
    .into_any()
}

/// A button that opens a confirmation saying what will happen; the form
/// inside (`children`) carries out the action.
#[component]
fn Confirm(
    #[prop(into)] label: String,
    #[prop(into)] explain: String,
    #[prop(optional)] danger: bool,
    #[prop(into)] testid: String,
    children: Children,
) -> impl IntoView {
    let button = if danger {
        DANGER_BUTTON
    } else {
        SECONDARY_BUTTON
    };
    // Closes again once any action finished (its outcome shows above).
    let actions = use_context::<Actions>();
    let open = move || {
        if let Some(actions) = actions {
            actions.finished();
        }
        false
    };
    view! {
        <details class="text-sm" data-testid=testid prop:open=open>
            <summary class=format!("{button} cursor-pointer list-none")>{label}</summary>
            <div class="mt-2 max-w-md space-y-3 rounded-md border border-slate-200 bg-white p-3 shadow-sm dark:border-slate-700 dark:bg-slate-900">
                <p>{explain}</p>
                {children()}
            </div>
        </details>
    }
    .into_any()
}

#[component]
fn ActionsCard(detail: ExtensionDetail, actions: Actions) -> impl IntoView {
    let s = detail.summary.clone();
    let id = s.id.clone();
    let busy = Signal::derive(move || actions.pending());
    let in_flight = s.operation.is_some();
    let running = s.state == "enabled";
    let enable = (!running && !in_flight).then(|| {
        let id = id.clone();
        let explain = format!(
            "Enable {id} {}? MagFlock runs its Init and Start, then a health check with a test event; if it is unhealthy it stays disabled and an alert is raised.",
            s.version
        );
        view! {
            <Confirm label="Enable…" explain testid="confirm-enable">
                <ActionForm action=actions.enable>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class=PRIMARY_BUTTON disabled=busy>"Yes, enable it"</button>
                </ActionForm>
            </Confirm>
        }
    });
    let disable = (running && !in_flight).then(|| {
        let id = id.clone();
        let explain = format!(
            "Disable {id}? Its Stop runs, its hooks, endpoints and widgets go away, and none of its code runs until it is enabled again. Its data and grants stay."
        );
        view! {
            <Confirm label="Disable…" explain danger=true testid="confirm-disable">
                <ActionForm action=actions.disable>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class=DANGER_BUTTON disabled=busy>"Yes, disable it"</button>
                </ActionForm>
            </Confirm>
        }
    });
    let upgrade = (!detail.upgrades.is_empty() && !in_flight).then(|| {
        let id = id.clone();
        let explain = format!(
            "Upgrade {id} from {}: the current version keeps serving while the new one is installed beside it, migrated and health-checked, then traffic switches in one step (or nothing changes if a step fails). The current version is kept for a rollback. A version asking for capabilities not granted today is not installed now: it goes to Approvals for an owner or admin to decide.",
            s.version
        );
        let options = detail.upgrades.clone();
        view! {
            <Confirm label="Upgrade…" explain testid="confirm-upgrade">
                <ActionForm action=actions.upgrade>
                    <input type="hidden" name="id" value=id/>
                    <label for="upgrade-version" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Version"</label>
                    <select id="upgrade-version" name="version" class=INPUT_CLASS>
                        {options.iter().map(|o| {
                            let text = if o.new_capabilities.is_empty() {
                                format!("{} (no new capabilities)", o.version)
                            } else {
                                format!("{} (needs approval: {})", o.version, o.new_capabilities.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", "))
                            };
                            view! { <option value=o.version.clone() disabled=o.incompatible.is_some()>{text}</option> }
                        }).collect_view()}
                    </select>
                    <ul class="mt-2 space-y-1 text-xs">
                        {options.into_iter().filter(|o| !o.new_capabilities.is_empty() || !o.removed_capabilities.is_empty() || o.incompatible.is_some()).map(|o| view! {
                            <li data-testid="upgrade-diff" data-version=o.version.clone()>
                                <span class="font-mono font-medium">{o.version.clone()}</span>
                                {o.new_capabilities.into_iter().map(|c| view! {
                                    <span class="ml-2 inline-flex items-center gap-1"><span class="font-mono">{format!("+ {}", c.name)}</span><RiskBadge risk=c.risk.clone()/></span>
                                }).collect_view()}
                                {o.removed_capabilities.into_iter().map(|c| view! { <span class="ml-2 font-mono text-slate-500">{format!("− {c}")}</span> }).collect_view()}
                                {o.incompatible.map(|why| view! { <span class="ml-2 text-red-700 dark:text-red-300">{why}</span> })}
                            </li>
                        }).collect_view()}
                    </ul>
                    <button type="submit" class=format!("{PRIMARY_BUTTON} mt-3") disabled=busy>"Upgrade to this version"</button>
                </ActionForm>
            </Confirm>
        }
    });
    let rollback = s.previous_version.clone().filter(|_| !in_flight).map(|previous| {
        let id = id.clone();
        let until = s
            .previous_until
            .map(|t| format!(" (kept until {})", format_utc(t)))
            .unwrap_or_default();
        let explain = format!(
            "Roll {id} back from {} to {previous}{until}? The newer version's migrations are reverted, {previous} is health-checked and takes the traffic in one step.",
            s.version
        );
        view! {
            <Confirm label=format!("Roll back to {}…", previous) explain testid="confirm-rollback">
                <ActionForm action=actions.rollback>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class=PRIMARY_BUTTON disabled=busy>"Yes, roll back"</button>
                </ActionForm>
            </Confirm>
        }
    });
    let uninstall = if in_flight {
        None
    } else if running {
        Some(view! { <p class="text-xs text-slate-500" data-testid="uninstall-hint">"To uninstall it, disable it first."</p> }.into_any())
    } else if !detail.dependents.is_empty() {
        Some(view! { <p class="text-xs text-slate-500">{format!("It cannot be uninstalled while {} depend on it.", detail.dependents.join(", "))}</p> }.into_any())
    } else {
        let id = id.clone();
        let explain = format!(
            "Uninstall {id}? Its Uninstall runs, its migrations are reverted where each has a down script (otherwise its data is kept and you are told where), and its files and grants are removed. This cannot be undone; installing it again needs a new approval."
        );
        Some(view! {
            <Confirm label="Uninstall…" explain danger=true testid="confirm-uninstall">
                <ActionForm action=actions.uninstall>
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class=DANGER_BUTTON disabled=busy>"Yes, uninstall it"</button>
                </ActionForm>
            </Confirm>
        }.into_any())
    };
    view! {
        <Card title="Actions">
            <div class="flex flex-wrap items-start gap-3" data-testid="actions">
                {enable}
                {disable}
                {upgrade}
                {rollback}
                {uninstall}
            </div>
            {detail.upgrades.is_empty().then(|| view! { <p class="mt-3 text-xs text-slate-500">"No newer version is listed in the catalogs."</p> })}
        </Card>
    }
    .into_any()
}

#[component]
fn CapabilitiesCard(summary: ExtensionSummary, can_act: bool, actions: Actions) -> impl IntoView {
    let id = summary.id.clone();
    let busy = Signal::derive(move || actions.pending());
    let granted_empty = summary.granted.is_empty();
    let granted = summary
        .granted
        .into_iter()
        .map(|c| {
            let id = id.clone();
            let name = c.name.clone();
            let control = can_act.then(|| {
                let explain = format!(
                    "Revoke {} from {id} now? Its very next call that needs it is refused: the sandbox stops the call, quarantines the extension and records the attempt in the audit log. You can grant it again here.",
                    c.name
                );
                view! {
                    <Confirm label="Revoke…" explain danger=true testid=format!("revoke-{name}")>
                        <ActionForm action=actions.revoke>
                            <input type="hidden" name="id" value=id/>
                            <input type="hidden" name="capability" value=name.clone()/>
                            <button type="submit" class=DANGER_BUTTON disabled=busy aria-label=format!("Yes, revoke {name}")>"Yes, revoke it"</button>
                        </ActionForm>
                    </Confirm>
                }
                .into_any()
            });
            view! { <CapabilityRow info=c granted=true control/> }
        })
        .collect_view();
    let not_granted_empty = summary.not_granted.is_empty();
    let not_granted = summary
        .not_granted
        .into_iter()
        .map(|c| {
            let id = id.clone();
            let name = c.name.clone();
            let control = can_act.then(|| {
                let hosts = if c.hosts.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", c.hosts.join(", "))
                };
                let explain = format!(
                    "Grant {}{hosts} to {id}? It becomes usable at its next call. Risk: {}. {}",
                    c.name, c.risk, c.description
                );
                view! {
                    <Confirm label="Grant…" explain testid=format!("grant-{name}")>
                        <ActionForm action=actions.grant>
                            <input type="hidden" name="id" value=id/>
                            <input type="hidden" name="capability" value=name.clone()/>
                            <button type="submit" class=PRIMARY_BUTTON disabled=busy aria-label=format!("Yes, grant {name}")>"Yes, grant it"</button>
                        </ActionForm>
                    </Confirm>
                }
                .into_any()
            });
            view! { <CapabilityRow info=c granted=false control/> }
        })
        .collect_view();
    view! {
        <Card title="Capabilities">
            <h3 class="text-sm font-semibold">"Granted"</h3>
            <ul class="mt-2 divide-y divide-slate-200 dark:divide-slate-800" data-testid="granted">{granted}</ul>
            {granted_empty.then(|| view! { <p class="mt-2 text-sm text-slate-500">"Nothing is granted: every call that needs a capability is refused."</p> })}
            <h3 class="mt-5 text-sm font-semibold">"Requested, not granted"</h3>
            <ul class="mt-2 divide-y divide-slate-200 dark:divide-slate-800" data-testid="not-granted">{not_granted}</ul>
            {not_granted_empty.then(|| view! { <p class="mt-2 text-sm text-slate-500">"It holds everything it requests."</p> })}
        </Card>
    }
    .into_any()
}

#[component]
fn CapabilityRow(info: CapabilityInfo, granted: bool, control: Option<AnyView>) -> impl IntoView {
    view! {
        <li class="flex flex-wrap items-start justify-between gap-3 py-3" data-testid="capability" data-capability=info.name.clone() data-granted=granted.to_string()>
            <div class="min-w-0 flex-1 space-y-1 text-sm">
                <div class="flex flex-wrap items-center gap-2">
                    <span class="font-mono font-medium">{info.name.clone()}</span>
                    <RiskBadge risk=info.risk.clone()/>
                    {(!info.hosts.is_empty()).then(|| view! { <span class="font-mono text-xs text-slate-500">{info.hosts.join(", ")}</span> })}
                </div>
                <p class="text-slate-700 dark:text-slate-300">{info.description.clone()}</p>
                {(!info.justification.is_empty()).then(|| view! { <p class="text-xs text-slate-500">{format!("Why it asks: {}", info.justification)}</p> })}
            </div>
            {control}
        </li>
    }
    .into_any()
}

#[component]
fn StatsCard(detail: ExtensionDetail) -> impl IntoView {
    let health_href = format!("/health?extension={}", detail.summary.id);
    let body = match detail.stats {
        None => view! { <p class="text-sm text-slate-600 dark:text-slate-400" data-testid="no-stats">"It is not running, so there are no call statistics."</p> }.into_any(),
        Some(f) => {
            let budgets = detail.budgets.clone().unwrap_or_default();
            view! {
                <dl class="grid grid-cols-2 gap-3 text-sm sm:grid-cols-3" data-testid="stats">
                    <Item label="Calls" value=format_count(f.calls) hint=format!("{} failed, {} stopped by the kernel", f.errors, f.stopped)/>
                    <Item label="Error rate" value=f.error_percent() hint=String::new()/>
                    <Item label="CPU (fuel per call)" value=format_count(f.fuel_per_call) hint=format!("budget {}", format_count(budgets.fuel_per_call))/>
                    <Item label="Peak memory" value=format_bytes(f.peak_memory_bytes) hint=format!("cap {} MiB", budgets.memory_mb)/>
                    <Item label="Latency p50 / p95 / p99" value=format!("{} / {} / {}", format_latency(f.p50_us), format_latency(f.p95_us), format_latency(f.p99_us)) hint=format!("deadline {} ms", budgets.deadline_ms)/>
                </dl>
            }.into_any()
        }
    };
    let check = match detail.last_check {
        None => "Not checked by the monitor since the server started.".to_string(),
        Some(c) if c.healthy => format!("Healthy at {}.", format_utc(c.at)),
        Some(c) => format!(
            "Unhealthy at {}: {}.",
            format_utc(c.at),
            c.problem.unwrap_or_default()
        ),
    };
    view! {
        <Card title="Statistics">
            {body}
            <p class="mt-3 text-sm" data-testid="last-check">{format!("Last health check: {check}")}</p>
            <a href=health_href class=format!("{LINK} mt-2 inline-block text-sm")>"Live charts on the Health page →"</a>
        </Card>
    }
    .into_any()
}

#[component]
fn Item(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    #[prop(into)] hint: String,
) -> impl IntoView {
    view! {
        <div class="rounded-md bg-slate-50 p-2 dark:bg-slate-950">
            <dt class="text-xs text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="font-semibold">{value}</dd>
            {(!hint.is_empty()).then(|| view! { <dd class="text-xs text-slate-500 dark:text-slate-400">{hint}</dd> })}
        </div>
    }
    .into_any()
}

#[component]
fn VersionsCard(detail: ExtensionDetail) -> impl IntoView {
    let s = detail.summary;
    let previous = match (s.previous_version, s.previous_until) {
        (Some(v), Some(until)) => format!("{v}, kept for a rollback until {}", format_utc(until)),
        (Some(v), None) => format!("{v}, kept for a rollback"),
        _ => "none kept".to_string(),
    };
    view! {
        <Card title="Versions">
            <dl class="grid gap-2 text-sm sm:grid-cols-[12rem_1fr]">
                <dt class="text-slate-500">"Installed"</dt><dd class="font-mono">{s.version}</dd>
                <dt class="text-slate-500">"Previous"</dt><dd data-testid="previous-version">{previous}</dd>
                <dt class="text-slate-500">"Newer in the catalogs"</dt>
                <dd>{if detail.upgrades.is_empty() { "none".to_string() } else { detail.upgrades.iter().map(|u| u.version.clone()).collect::<Vec<_>>().join(", ") }}</dd>
            </dl>
            {detail.catalog_problems.into_iter().map(|p| view! { <p class="mt-2 text-xs text-amber-700 dark:text-amber-300">{p}</p> }).collect_view()}
        </Card>
    }
    .into_any()
}
