//! The Approvals page (`/approvals`): capability requests waiting for a
//! decision (oldest first), then the decided ones with who decided, when,
//! their comment and what was granted.
//!
//! Each request shows every package of its plan with each capability in
//! plain language, its risk, the manifest's justification and hosts; for an
//! upgrade, what is new against what is granted today and what goes away.
//! Owners and admins approve everything, approve the ticked capabilities, or
//! deny, with an optional comment, after a confirmation that says what will
//! be granted; the result (or the lifecycle's error) is shown with a link to
//! the extension. Auditors see the same queue without the controls (the
//! server refuses them anyway).

use crate::AppError;
use crate::api::approvals::{
    ApprovalQueue, ApprovalRequest, DecideApproval, DecisionKind, DecisionResult, ExtensionOutcome,
    PlanItemView, RequestState, grant_value, list_approvals,
};
use crate::app::signed_in_user;
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{
    DANGER_BUTTON, PRIMARY_BUTTON, PageHeader, SECONDARY_BUTTON, TextArea,
};
use crate::pages::marketplace::{CapabilityText, RiskBadge, SignatureBadgeView, risk_summary};
use leptos::prelude::*;
use magflock_types::Role;
use magflock_types::time::format_utc;

const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";
const CHIP: &str = "inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium";
const MUTED: &str = "text-sm text-slate-600 dark:text-slate-400";
const CARD: &str = "scroll-mt-6 rounded-lg border border-slate-200 bg-white p-5 shadow-sm target:ring-2 target:ring-indigo-500 dark:border-slate-800 dark:bg-slate-900";

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let decide = ServerAction::<DecideApproval>::new();
    let queue = Resource::new(move || decide.version().get(), |_| list_approvals());
    // The request the last decision was about (its card shows the error).
    let deciding = RwSignal::new(None::<String>);
    view! {
        <PageHeader title="Approvals" description="Installs and upgrades wait here until an owner or admin decides which capabilities each extension gets. Every decision is recorded in the audit log."/>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let role = signed_in_user().await.map(|u| u.role).unwrap_or(Role::Auditor);
                match queue.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(queue) => view! { <Queue queue can_decide=role.can_manage() decide deciding/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn Queue(
    queue: ApprovalQueue,
    can_decide: bool,
    decide: ServerAction<DecideApproval>,
    deciding: RwSignal<Option<String>>,
) -> impl IntoView {
    let ApprovalQueue { pending, history } = queue;
    let pending_ids: Vec<String> = pending.iter().map(|r| r.id.clone()).collect();
    // An error about a request that is no longer pending (its plan failed
    // after approval, or someone else decided it) has no card to sit in.
    let error = action_error(decide);
    let orphan_error = Signal::derive(move || {
        let about = deciding.get()?;
        (!pending_ids.contains(&about))
            .then(|| error.get())
            .flatten()
    });
    let pending_count = pending.len();
    view! {
        <div class="space-y-8">
            {(!can_decide).then(|| view! {
                <p class="rounded-md bg-slate-100 px-3 py-2 text-sm dark:bg-slate-800" data-testid="read-only-note">"Your role can review requests but not decide them; owners and admins decide."</p>
            })}
            <ErrorBanner error=orphan_error/>
            <DecisionOutcomeView decide/>
            <section aria-labelledby="pending-title" class="space-y-4">
                <h2 id="pending-title" class="text-lg font-semibold">
                    "Waiting for a decision "
                    <span class="text-sm font-normal text-slate-500" data-testid="pending-count">{format!("({pending_count})")}</span>
                </h2>
                {if pending.is_empty() {
                    view! {
                        <p class=format!("rounded-lg border border-dashed border-slate-300 p-6 text-center dark:border-slate-700 {MUTED}") data-testid="no-pending">
                            "Nothing is waiting. Install requests from the "
                            <a href="/marketplace" class=LINK>"Marketplace"</a>
                            " and upgrades that ask for new capabilities appear here."
                        </p>
                    }.into_any()
                } else {
                    pending.into_iter().map(|request| view! { <PendingRequest request can_decide decide deciding/> }).collect_view().into_any()
                }}
            </section>
            <section aria-labelledby="history-title" class="space-y-4">
                <h2 id="history-title" class="text-lg font-semibold">"History"</h2>
                {if history.is_empty() {
                    view! { <p class=MUTED data-testid="no-history">"No request has been decided yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="space-y-3">
                            {history.into_iter().map(|request| view! { <DecidedRequest request/> }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
        </div>
    }
    .into_any()
}

fn kind_label(kind: &str) -> &'static str {
    if kind == "upgrade" {
        "Upgrade"
    } else {
        "Install"
    }
}

#[component]
fn StateBadge(state: RequestState) -> impl IntoView {
    let colour = match state {
        RequestState::Pending => {
            "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200"
        }
        RequestState::Approved | RequestState::Completed => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
        RequestState::Denied => "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100",
        RequestState::Failed => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
    };
    view! { <span class=format!("{CHIP} {colour}") data-testid="request-state">{state.label()}</span> }
}

/// Who asked and when.
fn asked_line(request: &ApprovalRequest) -> String {
    format!(
        "Requested by {} on {}",
        request
            .requested_by
            .clone()
            .unwrap_or_else(|| "MagFlock".into()),
        format_utc(request.requested_at)
    )
}

/// A request waiting for a decision; with the decision form for owners and
/// admins.
#[component]
fn PendingRequest(
    request: ApprovalRequest,
    can_decide: bool,
    decide: ServerAction<DecideApproval>,
    deciding: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = request.id.clone();
    let title_id = format!("{}-title", request.anchor());
    // One switch per capability, all on at first.
    let items: Vec<(PlanItemView, Vec<RwSignal<bool>>)> = request
        .items
        .iter()
        .map(|item| {
            let ticks = item
                .capabilities
                .iter()
                .map(|_| RwSignal::new(true))
                .collect();
            (item.clone(), ticks)
        })
        .collect();
    let what = plan_sentence(&request);
    let header = view! {
        <header class="flex flex-wrap items-start justify-between gap-3">
            <div>
                <h3 id=title_id.clone() class="flex flex-wrap items-center gap-2 text-base font-semibold">
                    <span class=format!("{CHIP} bg-indigo-100 text-indigo-800 dark:bg-indigo-900/60 dark:text-indigo-200")>{kind_label(&request.kind)}</span>
                    <span class="font-mono">{request.extension.clone()}</span>
                </h3>
                <p class=MUTED>{asked_line(&request)}</p>
                <p class="mt-1 text-sm">{what.clone()}</p>
            </div>
            <StateBadge state=request.state/>
        </header>
    };
    let error = action_error(decide);
    let my_error = {
        let id = id.clone();
        Signal::derive(move || {
            (deciding.get().as_deref() == Some(id.as_str()))
                .then(|| error.get())
                .flatten()
        })
    };
    let item_views = items
        .iter()
        .map(|(item, ticks)| view! { <PlanItem item=item.clone() ticks=ticks.clone() can_decide/> })
        .collect_view();
    let body = if can_decide {
        let form_id = id.clone();
        let enable = request.enable;
        view! {
            <ActionForm action=decide attr:data-testid="decision-form">
                <input type="hidden" name="request_id" value=form_id.clone()/>
                <div class="mt-4 space-y-4">{item_views}</div>
                <DecisionControls request_id=form_id what items=items.clone() enable decide deciding/>
                <div class="mt-3"><ErrorBanner error=my_error/></div>
            </ActionForm>
        }
        .into_any()
    } else {
        view! { <div class="mt-4 space-y-4">{item_views}</div> }.into_any()
    };
    let anchor = request.anchor();
    view! {
        <article id=anchor aria-labelledby=title_id class=CARD data-testid="approval-request" data-request=id.clone() data-state="pending">
            {header}
            {body}
        </article>
    }
    .into_any()
}

/// "Install magflock/a 1.0.0 (with magflock/b 1.2.0), then enable it."
fn plan_sentence(request: &ApprovalRequest) -> String {
    let wanted = request
        .items
        .iter()
        .find(|i| i.extension == request.extension);
    let main = match wanted {
        Some(item) if item.action == "upgrade" => format!(
            "Upgrade {} from {} to {}",
            item.extension,
            item.from_version.clone().unwrap_or_else(|| "?".into()),
            item.version
        ),
        Some(item) => format!("Install {} {}", item.extension, item.version),
        None => format!("{} {}", kind_label(&request.kind), request.extension),
    };
    let others: Vec<String> = request
        .items
        .iter()
        .filter(|i| i.extension != request.extension)
        .map(|i| format!("{} {}", i.extension, i.version))
        .collect();
    let with = if others.is_empty() {
        String::new()
    } else {
        format!(" together with what it needs ({})", others.join(", "))
    };
    let then = if request.enable && request.kind != "upgrade" {
        ", then enable it"
    } else {
        ""
    };
    format!("{main}{with}{then}.")
}

/// One package of a plan with its capabilities (ticks when deciding).
#[component]
fn PlanItem(item: PlanItemView, ticks: Vec<RwSignal<bool>>, can_decide: bool) -> impl IntoView {
    let risks: Vec<_> = item.capabilities.iter().map(|c| c.info.risk).collect();
    let upgrade = item.action == "upgrade";
    let version_text = match (&item.from_version, upgrade) {
        (Some(from), true) => format!("{from} → {}", item.version),
        _ => item.version.clone(),
    };
    let needed_by = (!item.required_by.is_empty()).then(|| {
        view! { <p class="text-xs text-slate-600 dark:text-slate-300">{format!("Comes along because {} needs it.", item.required_by.join(", "))}</p> }
    });
    let granted_now = (upgrade && !item.granted_now.is_empty()).then(|| {
        view! { <p class="text-xs text-slate-600 dark:text-slate-300" data-testid="granted-now">{format!("Granted today: {}.", item.granted_now.join(", "))}</p> }
    });
    let removed = (!item.removed_capabilities.is_empty()).then(|| {
        view! {
            <div class="rounded-md bg-slate-50 p-3 text-sm dark:bg-slate-950" data-testid="removed-capabilities">
                <p class="font-medium">"Granted today, no longer requested (removed at the upgrade):"</p>
                <ul class="mt-1 list-disc pl-5">
                    {item.removed_capabilities.iter().map(|c| view! { <li><span class="font-mono text-xs">{c.name.clone()}</span>{format!(": {}", c.description)}</li> }).collect_view()}
                </ul>
            </div>
        }
    });
    let extension = item.extension.clone();
    let capabilities = item
        .capabilities
        .into_iter()
        .zip(ticks)
        .map(|(cap, tick)| {
            let value = grant_value(&extension, &cap.info.name);
            let input_id = format!("grant-{}", value.replace(['/', '#', '.'], "-"));
            let name = cap.info.name.clone();
            let risk = cap.info.risk.as_str();
            let new = cap.new.then(|| view! { <span class=format!("{CHIP} bg-indigo-600 text-white") data-testid="new-capability">"New"</span> });
            let control = if can_decide {
                view! {
                    <input
                        id=input_id.clone()
                        type="checkbox"
                        name="grants[]"
                        value=value
                        checked=true
                        on:change=move |ev| tick.set(event_target_checked(&ev))
                        aria-label=format!("Grant {name} to {extension}", extension = extension.clone())
                        class="mt-1 h-4 w-4 shrink-0 rounded border-slate-300 text-indigo-600 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500"
                    />
                }
                .into_any()
            } else {
                ().into_any()
            };
            let capability = cap.info.name.clone();
            view! {
                <li class="flex gap-3 py-3" data-testid="capability" data-capability=capability data-risk=risk>
                    {control}
                    <div class="min-w-0 flex-1">
                        {new}
                        <CapabilityText info=cap.info/>
                    </div>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="rounded-md border border-slate-200 p-4 dark:border-slate-800" data-testid="plan-item" data-extension=item.extension.clone()>
            <div class="flex flex-wrap items-center gap-2">
                <span class="font-semibold">{item.name.clone()}</span>
                <span class="font-mono text-xs text-slate-500">{item.extension.clone()}</span>
                <span class="text-sm">{version_text}</span>
                <SignatureBadgeView badge=item.signature/>
            </div>
            {needed_by}
            {granted_now}
            <p class="mt-1 text-xs text-slate-500">{risk_summary(&risks)}</p>
            <ul class="divide-y divide-slate-200 dark:divide-slate-800">{capabilities}</ul>
            {removed}
        </section>
    }
    .into_any()
}

/// Comment, the three decisions, and the confirmation each needs.
#[component]
fn DecisionControls(
    request_id: String,
    what: String,
    items: Vec<(PlanItemView, Vec<RwSignal<bool>>)>,
    enable: bool,
    decide: ServerAction<DecideApproval>,
    deciding: RwSignal<Option<String>>,
) -> impl IntoView {
    let total: usize = items.iter().map(|(i, _)| i.capabilities.len()).sum();
    let comment_id = format!("comment-{request_id}");
    let group = format!("decide-{request_id}");
    let all_lines: Vec<String> = items
        .iter()
        .flat_map(|(item, _)| {
            item.capabilities.iter().map(move |c| {
                capability_line(
                    &item.extension,
                    &c.info.name,
                    &c.info.hosts,
                    c.info.risk.label(),
                )
            })
        })
        .collect();
    let after = if enable {
        "It is installed and enabled right away."
    } else {
        "It is installed right away (not enabled)."
    };
    // (granted, refused) lines for the current ticks.
    let chosen = {
        let items = items.clone();
        move || {
            let mut granted = Vec::new();
            let mut refused = Vec::new();
            for (item, ticks) in &items {
                for (c, tick) in item.capabilities.iter().zip(ticks) {
                    let line = capability_line(
                        &item.extension,
                        &c.info.name,
                        &c.info.hosts,
                        c.info.risk.label(),
                    );
                    if tick.get() {
                        granted.push(line);
                    } else {
                        refused.push(line);
                    }
                }
            }
            (granted, refused)
        }
    };
    let chosen_for_count = chosen.clone();
    let selected_label = move || {
        let n = chosen_for_count().0.len();
        format!("Approve selected ({n} of {total})…")
    };
    let mark = {
        let request_id = request_id.clone();
        move |_| deciding.set(Some(request_id.clone()))
    };
    let submit = move |label: &'static str, decision: DecisionKind, class: &'static str| {
        let mark = mark.clone();
        view! {
            <button type="submit" name="decision" value=decision.as_str() class=class on:click=mark disabled=move || decide.pending().get() data-testid=format!("confirm-{}", decision.as_str())>
                {move || if decide.pending().get() { "Working…" } else { label }}
            </button>
        }
        .into_any()
    };
    let noun = if total == 1 {
        "capability"
    } else {
        "capabilities"
    };
    let approve_all = view! {
        <details name=group.clone() class="text-sm" data-testid="approve-all">
            <summary class=format!("{PRIMARY_BUTTON} cursor-pointer list-none")>"Approve all…"</summary>
            <div class="mt-2 max-w-lg space-y-2 rounded-md border border-slate-200 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-950">
                <p>{format!("{what} Grant all {total} requested {noun}:")}</p>
                <ul class="list-disc pl-5 text-xs">{all_lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                <p class="text-xs">{after}</p>
                {submit("Yes, approve all", DecisionKind::Approve, PRIMARY_BUTTON)}
            </div>
        </details>
    }
    .into_any();
    let confirmation = move || {
        let (granted, refused) = chosen();
        let grant = if granted.is_empty() {
            view! { <p class="font-medium">"Grant nothing: no capability is ticked. Every call that needs one will be refused."</p> }.into_any()
        } else {
            view! {
                <p class="font-medium">{format!("Grant only these {}:", granted.len())}</p>
                <ul class="list-disc pl-5 text-xs" data-testid="will-grant">{granted.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
            }
            .into_any()
        };
        let refuse = (!refused.is_empty()).then(|| {
            view! {
                <p class="font-medium">"Not granted:"</p>
                <ul class="list-disc pl-5 text-xs" data-testid="will-refuse">{refused.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
            }
            .into_any()
        });
        view! { {grant} {refuse} }.into_any()
    };
    let approve_selected = view! {
        <details name=group.clone() class="text-sm" data-testid="approve-selected">
            <summary class=format!("{SECONDARY_BUTTON} cursor-pointer list-none") data-testid="approve-selected-button">{selected_label}</summary>
            <div class="mt-2 max-w-lg space-y-2 rounded-md border border-slate-200 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-950" data-testid="selected-confirmation">
                <p>{what.clone()}</p>
                {confirmation}
                <p class="text-xs">{after}</p>
                {submit("Yes, grant the selected", DecisionKind::ApproveSelected, PRIMARY_BUTTON)}
            </div>
        </details>
    }
    .into_any();
    let deny = view! {
        <details name=group class="text-sm" data-testid="deny">
            <summary class=format!("{DANGER_BUTTON} cursor-pointer list-none")>"Deny…"</summary>
            <div class="mt-2 max-w-lg space-y-2 rounded-md border border-slate-200 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-950">
                <p>"Deny this request? Nothing is installed and the packages waiting for it are deleted. It can be requested again from the Marketplace."</p>
                {submit("Yes, deny", DecisionKind::Deny, DANGER_BUTTON)}
            </div>
        </details>
    }
    .into_any();
    view! {
        <div class="mt-5 space-y-3 border-t border-slate-200 pt-4 dark:border-slate-800">
            <TextArea label="Comment (optional)" name="comment" id=comment_id rows=2 maxlength=2000 placeholder="Why you decided this way; kept with the decision and in the audit log"/>
            <div class="flex flex-wrap items-start gap-3">
                {approve_all}
                {approve_selected}
                {deny}
            </div>
        </div>
    }
    .into_any()
}

fn capability_line(extension: &str, name: &str, hosts: &[String], risk: &str) -> String {
    let hosts = if hosts.is_empty() {
        String::new()
    } else {
        format!(" ({})", hosts.join(", "))
    };
    format!("{extension}: {name}{hosts}, {}", risk.to_lowercase())
}

/// What the last decision did, with links to the extensions.
#[component]
fn DecisionOutcomeView(decide: ServerAction<DecideApproval>) -> impl IntoView {
    move || {
        decide
            .value()
            .get()
            .and_then(|r| r.ok())
            .map(|result| view! { <DecisionOutcome result/> })
    }
}

#[component]
fn DecisionOutcome(result: DecisionResult) -> impl IntoView {
    let DecisionResult {
        request,
        extensions,
    } = result;
    if request.state == RequestState::Denied {
        return view! {
            <div role="status" class="rounded-md bg-slate-100 px-4 py-3 text-sm dark:bg-slate-800" data-testid="decision-result" data-state="denied">
                {format!("Denied the {} request for {}. Nothing was installed.", request.kind, request.extension)}
            </div>
        }
        .into_any();
    }
    view! {
        <div role="status" class="space-y-2 rounded-md border border-emerald-300 bg-emerald-50 px-4 py-3 text-sm text-emerald-900 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100" data-testid="decision-result" data-state=request.state.as_str()>
            <p class="font-medium">{format!("Approved the {} request for {}.", request.kind, request.extension)}</p>
            <ul class="space-y-1">
                {extensions.into_iter().map(|e| view! { <OutcomeLine outcome=e/> }).collect_view()}
            </ul>
        </div>
    }
    .into_any()
}

#[component]
fn OutcomeLine(outcome: ExtensionOutcome) -> impl IntoView {
    let granted = if outcome.granted.is_empty() {
        "no capabilities".to_string()
    } else {
        outcome.granted.join(", ")
    };
    let state = match outcome.state.as_str() {
        "enabled" => "enabled".to_string(),
        "quarantined" => format!(
            "quarantined ({})",
            outcome.reason.clone().unwrap_or_default()
        ),
        other => other.to_string(),
    };
    view! {
        <li data-testid="outcome" data-extension=outcome.id.clone() data-state=outcome.state.clone()>
            <span class="font-mono">{outcome.id.clone()}</span>
            {format!(" {}: {state}, granted ", outcome.version)}
            <span data-testid="outcome-granted">{granted}</span>
            ". "
            <a href=outcome.href() class=LINK>"Open the extension"</a>
        </li>
    }
    .into_any()
}

/// A decided request in the history.
#[component]
fn DecidedRequest(request: ApprovalRequest) -> impl IntoView {
    let decided = match (&request.decided_by, request.decided_at) {
        (Some(by), Some(at)) => format!("Decided by {by} on {}", format_utc(at)),
        (None, Some(at)) => format!("Decided on {}", format_utc(at)),
        _ => "Decided".to_string(),
    };
    let comment_label = if request.state == RequestState::Failed {
        "Why it failed: "
    } else {
        "Comment: "
    };
    let comment = request.comment.clone().map(|c| {
        view! { <p class="text-sm" data-testid="decision-comment"><span class="font-medium">{comment_label}</span>{c}</p> }
    });
    let granted = request.granted.clone().map(|granted| {
        view! {
            <div class="text-sm" data-testid="granted">
                <p class="font-medium">"Granted:"</p>
                <ul class="list-disc pl-5">
                    {granted.into_iter().map(|g| {
                        let list = if g.capabilities.is_empty() { "nothing".to_string() } else { g.capabilities.join(", ") };
                        view! {
                            <li>
                                <a href=format!("/extensions/{}", g.extension) class=format!("{LINK} font-mono text-xs")>{g.extension.clone()}</a>
                                {format!(": {list}")}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </div>
        }
    });
    let what = plan_sentence(&request);
    let items = request.items.clone();
    let title_id = format!("{}-title", request.anchor());
    let heading_id = title_id.clone();
    view! {
        <li id=request.anchor() aria-labelledby=title_id class=CARD data-testid="approval-request" data-request=request.id.clone() data-state=request.state.as_str()>
            <div class="flex flex-wrap items-start justify-between gap-3">
                <div class="space-y-1">
                    <h3 id=heading_id class="flex flex-wrap items-center gap-2 text-sm font-semibold">
                        <span class=format!("{CHIP} bg-indigo-100 text-indigo-800 dark:bg-indigo-900/60 dark:text-indigo-200")>{kind_label(&request.kind)}</span>
                        <span class="font-mono">{request.extension.clone()}</span>
                    </h3>
                    <p class="text-xs text-slate-500">{format!("{} · {decided}", asked_line(&request))}</p>
                </div>
                <StateBadge state=request.state/>
            </div>
            <div class="mt-2 space-y-2">
                {comment}
                {granted}
                <details class="text-sm">
                    <summary class="cursor-pointer rounded text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400">"What was asked"</summary>
                    <p class="mt-2">{what}</p>
                    <ul class="mt-2 space-y-2">
                        {items.into_iter().map(|item| view! {
                            <li>
                                <p class="flex flex-wrap items-center gap-2">
                                    <span class="font-mono text-xs">{format!("{} {}", item.extension, item.version)}</span>
                                    <SignatureBadgeView badge=item.signature/>
                                </p>
                                <ul class="mt-1 space-y-1 pl-4">
                                    {item.capabilities.into_iter().map(|c| view! {
                                        <li class="flex flex-wrap items-center gap-2 text-xs">
                                            <span class="font-mono">{c.info.name.clone()}</span>
                                            <RiskBadge risk=c.info.risk/>
                                            <span class="text-slate-600 dark:text-slate-300">{c.info.description.clone()}</span>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            </li>
                        }).collect_view()}
                    </ul>
                </details>
            </div>
        </li>
    }
    .into_any()
}
