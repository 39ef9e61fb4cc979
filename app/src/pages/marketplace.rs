//! The Marketplace (`/marketplace`) and one extension's page
//! (`/marketplace/:publisher/:name`).
//!
//! The list is filtered through the URL (a plain GET form), so a filtered
//! view is one link and works before the page hydrates. A catalog that could
//! not be read is a warning above what the others list, never an error page.
//! The detail page explains every requested capability like a permission
//! prompt (plain language, risk, the manifest's justification, hosts) and
//! renders the README through [`markdown`], which lets no HTML through. Only
//! owners and admins see a working Install; it queues a request for
//! Approvals and links to it.

mod markdown;

use crate::AppError;
use crate::api::approvals::request_anchor;
use crate::api::marketplace::{
    CapabilityInfo, CatalogResults, DependencyInfo, ListingDetail, ListingSummary, RequestInstall,
    RiskLevel, SignatureBadge, VersionInfo, edition_label, marketplace_listing, marketplace_search,
};
use crate::app::{encode_query_value, signed_in_user};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{Card, INPUT_CLASS, PRIMARY_BUTTON, PageHeader, SECONDARY_BUTTON};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use magflock_types::Role;
pub use markdown::Markdown;

const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";
const CHIP: &str = "inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium";
const NEUTRAL_CHIP: &str = "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200";
const WARNING: &str = "rounded-md border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100";
const SUCCESS: &str = "rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200";
const MUTED: &str = "text-sm text-slate-600 dark:text-slate-400";
const LOADING: &str = "text-sm text-slate-500";

/// The filters the list understands, in the order of the form.
const FILTERS: [&str; 5] = ["q", "category", "capability", "signature", "edition"];

// ---- shared pieces (the Approvals page uses them too) ---------------------------

/// How far a package is trusted, as a badge with its meaning on hover.
#[component]
pub fn SignatureBadgeView(badge: SignatureBadge) -> impl IntoView {
    let colour = match badge {
        SignatureBadge::FirstParty => {
            "bg-purple-100 text-purple-800 dark:bg-purple-900/60 dark:text-purple-200"
        }
        SignatureBadge::VerifiedPublisher => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
        SignatureBadge::Community => {
            "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200"
        }
        SignatureBadge::Unsigned => "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
    };
    view! {
        <span class=format!("{CHIP} {colour}") title=badge.explain() data-testid="signature-badge" data-signature=badge.as_str()>
            {badge.label()}
        </span>
    }
    .into_any()
}

/// A capability's risk, coloured like a permission prompt.
#[component]
pub fn RiskBadge(risk: RiskLevel) -> impl IntoView {
    let colour = match risk {
        RiskLevel::Low => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200",
        RiskLevel::Medium => "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200",
        RiskLevel::High => {
            "bg-orange-100 text-orange-800 dark:bg-orange-900/60 dark:text-orange-200"
        }
        RiskLevel::Critical => "bg-red-600 text-white dark:bg-red-700",
    };
    view! { <span class=format!("{CHIP} {colour}") data-testid="risk-badge" data-risk=risk.as_str()>{risk.label()}</span> }
}

/// One capability explained: what it allows, its name, why the extension
/// asks for it, and the hosts it may reach.
#[component]
pub fn CapabilityText(info: CapabilityInfo) -> impl IntoView {
    let hosts = (!info.hosts.is_empty()).then(|| {
        view! {
            <p class="mt-1 text-xs text-slate-600 dark:text-slate-300" data-testid="capability-hosts">
                "Only these hosts: "
                {info.hosts.iter().enumerate().map(|(n, host)| view! {
                    {(n > 0).then_some(", ")}
                    <code class="rounded bg-slate-100 px-1 font-mono dark:bg-slate-800">{host.clone()}</code>
                }).collect_view()}
            </p>
        }
    });
    let justification = (!info.justification.is_empty()).then(|| {
        view! {
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-300">
                <span class="font-medium text-slate-700 dark:text-slate-200">"Why it asks: "</span>
                {info.justification.clone()}
            </p>
        }
    });
    view! {
        <div class="min-w-0 flex-1">
            <div class="flex flex-wrap items-center gap-2">
                <span class="font-medium">{info.description.clone()}</span>
                <RiskBadge risk=info.risk/>
            </div>
            <p class="font-mono text-xs text-slate-500 dark:text-slate-400">{info.name.clone()}</p>
            {justification}
            {hosts}
        </div>
    }
    .into_any()
}

/// "3 capabilities: 1 critical, 2 low".
pub fn risk_summary<'a>(risks: impl IntoIterator<Item = &'a RiskLevel>) -> String {
    let risks: Vec<RiskLevel> = risks.into_iter().copied().collect();
    if risks.is_empty() {
        return "No capabilities requested".into();
    }
    let counts: Vec<String> = [
        RiskLevel::Critical,
        RiskLevel::High,
        RiskLevel::Medium,
        RiskLevel::Low,
    ]
    .into_iter()
    .filter_map(|level| {
        let n = risks.iter().filter(|r| **r == level).count();
        (n > 0).then(|| format!("{n} {}", level.as_str()))
    })
    .collect();
    format!(
        "{} {}: {}",
        risks.len(),
        if risks.len() == 1 {
            "capability"
        } else {
            "capabilities"
        },
        counts.join(", ")
    )
}

fn problems_view(problems: Vec<String>) -> impl IntoView {
    (!problems.is_empty()).then(|| {
        view! {
            <div role="status" class=WARNING data-testid="catalog-problems">
                <p class="font-medium">"Some catalogs could not be read; their extensions are not listed:"</p>
                <ul class="mt-1 list-disc pl-5">
                    {problems.into_iter().map(|p| view! { <li class="break-words">{p}</li> }).collect_view()}
                </ul>
            </div>
        }
    })
}

// ---- the list -------------------------------------------------------------------

#[component]
pub fn MarketplacePage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| {
        query
            .read()
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let results = Resource::new(
        move || {
            (
                param("q"),
                param("category"),
                param("capability"),
                param("signature"),
                param("edition"),
            )
        },
        |(q, category, capability, signature, edition)| {
            marketplace_search(q, category, capability, signature, edition)
        },
    );
    let filtered = move || FILTERS.iter().any(|k| param(k).is_some());
    view! {
        <PageHeader title="Marketplace" description="Extensions from the catalogs this instance trusts. Installing one asks for approval first: an owner or admin decides which capabilities it gets."/>
        <Transition fallback=|| view! { <p class=LOADING>"Loading the catalogs…"</p> }>
            {move || Suspend::new(async move {
                match results.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! {
                        <div class="space-y-4">
                            <ErrorBanner error=Signal::derive(move || Some(error.clone()))/>
                            <a href="/marketplace" class=LINK>"Clear the filters"</a>
                        </div>
                    }.into_any(),
                    Ok(results) => view! { <Results results filtered=filtered()/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn Results(results: CatalogResults, filtered: bool) -> impl IntoView {
    let CatalogResults {
        listings,
        problems,
        categories,
        capabilities,
        total,
    } = results;
    let count = listings.len();
    let summary = if filtered {
        format!(
            "{count} of {total} {} match",
            if total == 1 {
                "extension"
            } else {
                "extensions"
            }
        )
    } else {
        format!(
            "{total} {}",
            if total == 1 {
                "extension"
            } else {
                "extensions"
            }
        )
    };
    let empty = if total == 0 {
        "No extension is listed: the catalogs are empty or could not be read."
    } else {
        "No extension matches these filters."
    };
    view! {
        <div class="space-y-6">
            <FilterForm categories capabilities/>
            {problems_view(problems)}
            <p class=MUTED data-testid="listing-count">{summary}</p>
            {if listings.is_empty() {
                view! {
                    <Card>
                        <div class="space-y-2 text-sm" data-testid="no-listings">
                            <p>{empty}</p>
                            {filtered.then(|| view! { <a href="/marketplace" class=LINK>"Show every extension"</a> })}
                        </div>
                    </Card>
                }.into_any()
            } else {
                view! {
                    <ul class="grid gap-4 md:grid-cols-2 xl:grid-cols-3" aria-label="Extensions">
                        {listings.into_iter().map(|listing| view! { <ListingCard listing/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </div>
    }
    .into_any()
}

/// The filters, as a GET form: submitting loads `/marketplace?…`.
#[component]
fn FilterForm(categories: Vec<String>, capabilities: Vec<(String, String)>) -> impl IntoView {
    let query = use_query_map();
    let value = move |key: &str| query.read_untracked().get(key).unwrap_or_default();
    let category = value("category");
    let capability = value("capability");
    let signature = value("signature");
    let edition = value("edition");
    let option = move |current: &str, value: String, label: String| {
        let selected = current == value;
        view! { <option value=value selected=selected>{label}</option> }
    };
    view! {
        <Card>
            <form method="get" action="/marketplace" role="search" aria-label="Search the marketplace">
                <div class="grid gap-3 sm:grid-cols-2 lg:grid-cols-6">
                    <div class="space-y-1 lg:col-span-2">
                        <label for="filter-q" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Search"</label>
                        <input id="filter-q" name="q" type="search" value=value("q") placeholder="name, id or description" class=INPUT_CLASS/>
                    </div>
                    <div class="space-y-1">
                        <label for="filter-category" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Category"</label>
                        <select id="filter-category" name="category" class=INPUT_CLASS>
                            <option value="">"Any category"</option>
                            {categories.into_iter().map(|c| option(&category, c.clone(), c)).collect_view()}
                        </select>
                    </div>
                    <div class="space-y-1">
                        <label for="filter-capability" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Requests capability"</label>
                        <select id="filter-capability" name="capability" class=INPUT_CLASS>
                            <option value="">"Any capability"</option>
                            {capabilities.into_iter().map(|(name, _)| option(&capability, name.clone(), name)).collect_view()}
                        </select>
                    </div>
                    <div class="space-y-1">
                        <label for="filter-signature" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Signature"</label>
                        <select id="filter-signature" name="signature" class=INPUT_CLASS>
                            <option value="">"Any signature"</option>
                            {SignatureBadge::ALL.into_iter().map(|s| option(&signature, s.as_str().to_string(), s.label().to_string())).collect_view()}
                        </select>
                    </div>
                    <div class="space-y-1">
                        <label for="filter-edition" class="block text-xs font-medium text-slate-600 dark:text-slate-300">"Edition"</label>
                        <select id="filter-edition" name="edition" class=INPUT_CLASS>
                            <option value="">"Any edition"</option>
                            {option(&edition, "ce".into(), "Community (CE)".into())}
                            {option(&edition, "pro".into(), "Pro".into())}
                        </select>
                    </div>
                </div>
                <div class="mt-3 flex items-center gap-3">
                    <button type="submit" class=SECONDARY_BUTTON>"Search"</button>
                    <a href="/marketplace" rel="external" class="px-2 py-1.5 text-sm text-slate-600 hover:underline dark:text-slate-300">"Clear filters"</a>
                </div>
            </form>
        </Card>
    }
    .into_any()
}

#[component]
fn ListingCard(listing: ListingSummary) -> impl IntoView {
    let href = listing.href();
    let title_id = format!("listing-{}", listing.id.replace('/', "-"));
    let heading_id = title_id.clone();
    let categories = listing.categories.clone();
    let capability_count = listing.capabilities.len();
    view! {
        <li class="flex">
            <article aria-labelledby=title_id data-testid="listing-card" data-id=listing.id.clone() class="flex w-full flex-col rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="flex items-start justify-between gap-3">
                    <div class="min-w-0">
                        <h2 id=heading_id class="text-base font-semibold">
                            <a href=href.clone() class="rounded hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500">{listing.name.clone()}</a>
                        </h2>
                        <p class="truncate text-xs text-slate-500 dark:text-slate-400">
                            <span class="font-mono">{listing.id.clone()}</span>
                            {format!(" · by {} · v{}", listing.publisher, listing.version)}
                        </p>
                    </div>
                    <SignatureBadgeView badge=listing.signature/>
                </div>
                <p class="mt-2 line-clamp-3 text-sm text-slate-700 dark:text-slate-300">{listing.description.clone()}</p>
                <div class="mt-3 flex flex-wrap gap-1.5">
                    <span class=format!("{CHIP} {NEUTRAL_CHIP}")>{edition_label(&listing.edition)}</span>
                    {categories.into_iter().map(|c| view! { <span class=format!("{CHIP} {NEUTRAL_CHIP}")>{c}</span> }).collect_view()}
                </div>
                <div class="mt-auto flex flex-wrap items-center gap-2 pt-3 text-xs">
                    {listing.highest_risk.map(|risk| view! {
                        <span class="text-slate-600 dark:text-slate-300">{format!("{capability_count} {}, highest", if capability_count == 1 { "capability" } else { "capabilities" })}</span>
                        <RiskBadge risk/>
                    })}
                    {listing.installed.clone().map(|v| view! {
                        <span class=format!("{CHIP} bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200") data-testid="installed-marker">{format!("Installed v{v}")}</span>
                    })}
                    {listing.incompatible.clone().map(|reason| view! {
                        <span class="w-full rounded-md bg-red-50 px-2 py-1 text-red-800 dark:bg-red-950 dark:text-red-200" data-testid="incompatible-marker">{format!("Incompatible: {reason}")}</span>
                    })}
                </div>
            </article>
        </li>
    }
    .into_any()
}

// ---- one extension ----------------------------------------------------------------

#[component]
pub fn ListingPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || {
        let p = params.read();
        format!(
            "{}/{}",
            p.get("publisher").unwrap_or_default(),
            p.get("name").unwrap_or_default()
        )
    };
    let version = move || {
        query
            .read()
            .get("version")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let install = ServerAction::<RequestInstall>::new();
    let detail = Resource::new(
        move || (id(), version(), install.version().get()),
        |(id, version, _)| marketplace_listing(id, version),
    );
    view! {
        <p class="mb-4 text-sm"><a href="/marketplace" class=LINK>"← Marketplace"</a></p>
        <Transition fallback=|| view! { <p class=LOADING>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let role = signed_in_user().await.map(|u| u.role).unwrap_or(Role::Auditor);
                match detail.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                    // Not listed (or not readable right now): said on the page, not as
                    // an error page, since a catalog may come back.
                    Err(AppError::NotFound(message)) => view! {
                        <PageHeader title=id()/>
                        <Card>
                            <div class="space-y-2 text-sm" data-testid="not-listed">
                                <p>{message}</p>
                                <p class=MUTED>"The Marketplace lists what the catalogs offer and says which catalogs could not be read."</p>
                                <a href="/marketplace" class=LINK>"Browse the Marketplace"</a>
                            </div>
                        </Card>
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(detail) => view! { <Detail detail role install/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn Detail(
    detail: ListingDetail,
    role: Role,
    install: ServerAction<RequestInstall>,
) -> impl IntoView {
    let ListingDetail {
        summary,
        capabilities,
        kernel_api,
        kernel,
        dependencies,
        versions,
        newest,
        source,
        key_id,
        size,
        sha256,
        license,
        readme,
        readme_problem,
        pending_request,
        problems,
    } = detail;
    let risks: Vec<RiskLevel> = capabilities.iter().map(|c| c.risk).collect();
    let capability_summary = risk_summary(&risks);
    let categories = summary.categories.clone();
    let older = (summary.version != newest).then(|| {
        view! {
            <p role="status" class=WARNING>
                {format!("You are looking at version {}. The newest is {newest}. ", summary.version)}
                <a href=summary.href() class=LINK>"Show the newest"</a>
            </p>
        }
    });
    view! {
        <PageHeader title=summary.name.clone() description=summary.description.clone()/>
        <div class="-mt-3 mb-6 flex flex-wrap items-center gap-2 text-sm" data-testid="listing-header">
            <span class="font-mono text-slate-600 dark:text-slate-300">{summary.id.clone()}</span>
            <span class="text-slate-400">"·"</span>
            <span>{format!("by {}", summary.publisher)}</span>
            <span class="text-slate-400">"·"</span>
            <span data-testid="listing-version">{format!("v{}", summary.version)}</span>
            <SignatureBadgeView badge=summary.signature/>
            <span class=format!("{CHIP} {NEUTRAL_CHIP}")>{edition_label(&summary.edition)}</span>
            {categories.into_iter().map(|c| view! { <span class=format!("{CHIP} {NEUTRAL_CHIP}")>{c}</span> }).collect_view()}
        </div>
        <div class="space-y-6">
            {problems_view(problems)}
            {older}
            <div class="grid gap-6 lg:grid-cols-3">
                <div class="space-y-6 lg:col-span-2">
                    <InstallPanel summary=summary.clone() dependencies=dependencies.clone() capability_count=capabilities.len() pending_request role install/>
                    <section aria-labelledby="capabilities-title" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                        <h2 id="capabilities-title" class="text-base font-semibold">"What it may do"</h2>
                        <p class=format!("mb-3 {MUTED}") data-testid="capability-summary">{capability_summary}</p>
                        {if capabilities.is_empty() {
                            view! { <p class="text-sm">"It requests no capabilities: it can only react to what it is given and cannot reach data, the network or the UI."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="divide-y divide-slate-200 dark:divide-slate-800" data-testid="capabilities">
                                    {capabilities.into_iter().map(|info| { let name = info.name.clone(); let risk = info.risk.as_str(); view! {
                                        <li class="flex gap-3 py-3" data-testid="capability" data-capability=name data-risk=risk>
                                            <CapabilityText info/>
                                        </li>
                                    }}).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    <Card title="README">
                        {match (readme, readme_problem) {
                            (Some(text), _) => view! { <Markdown text/> }.into_any(),
                            (None, problem) => view! { <p class=MUTED data-testid="readme-missing">{problem.unwrap_or_else(|| "The package has no README.".into())}</p> }.into_any(),
                        }}
                    </Card>
                </div>
                <aside class="space-y-6">
                    <Compatibility kernel_api kernel incompatible=summary.incompatible.clone()/>
                    <Dependencies dependencies/>
                    <Versions versions current=summary.version.clone() href=summary.href()/>
                    <Card title="Package">
                        <dl class="space-y-2 text-sm">
                            {license.map(|l| view! { <div><dt class="text-xs text-slate-500">"Licence"</dt><dd>{l}</dd></div> })}
                            <div><dt class="text-xs text-slate-500">"From"</dt><dd class="break-all">{source}</dd></div>
                            <div><dt class="text-xs text-slate-500">"Signed with key"</dt><dd class="break-all font-mono text-xs">{key_id.unwrap_or_else(|| "not signed".into())}</dd></div>
                            <div><dt class="text-xs text-slate-500">"Size"</dt><dd>{format_size(size)}</dd></div>
                            <div><dt class="text-xs text-slate-500">"SHA-256"</dt><dd class="break-all font-mono text-xs">{sha256}</dd></div>
                        </dl>
                    </Card>
                </aside>
            </div>
        </div>
    }
    .into_any()
}

fn format_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.0} KB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

/// Install, or why not: installed already, waiting for approval,
/// incompatible, untrusted signature, or a role that cannot install.
#[component]
fn InstallPanel(
    summary: ListingSummary,
    dependencies: Vec<DependencyInfo>,
    capability_count: usize,
    pending_request: Option<String>,
    role: Role,
    install: ServerAction<RequestInstall>,
) -> impl IntoView {
    let error = action_error(install);
    let sent = move || {
        install.value().get().and_then(|r| r.ok()).map(|sent| {
            let href = format!("/approvals#{}", request_anchor(&sent.request_id));
            let plan = sent.items.join(", ");
            view! {
                <p role="status" class=SUCCESS data-testid="install-requested">
                    {format!("Install request sent ({plan}). An owner or admin decides on it in Approvals. ")}
                    <a href=href class=LINK data-testid="request-link">"Open the request"</a>
                </p>
            }
        })
    };
    let extension_href = format!("/extensions/{}", summary.id);
    let state = if let Some(installed) = summary.installed.clone() {
        view! {
            <div class="space-y-2 text-sm" data-testid="install-state" data-state="installed">
                <p>{format!("Installed: version {installed}.")}</p>
                <a href=extension_href class=LINK>"Manage it on the Extensions page"</a>
            </div>
        }
        .into_any()
    } else if let Some(request) = pending_request {
        let href = format!("/approvals#{}", request_anchor(&request));
        view! {
            <div class="space-y-2 text-sm" data-testid="install-state" data-state="pending">
                <p>"An install request for this extension is waiting for approval."</p>
                <a href=href class=LINK data-testid="request-link">"Open the request in Approvals"</a>
            </div>
        }
        .into_any()
    } else if let Some(reason) = summary.incompatible.clone() {
        disabled_install(format!("It cannot be installed here. {reason}"))
    } else if summary.signature == SignatureBadge::Community {
        disabled_install(SignatureBadge::Community.explain().to_string())
    } else if !role.can_manage() {
        disabled_install(
            "Only owners and admins can install extensions; your role can look around.".to_string(),
        )
    } else {
        let coming: Vec<String> = dependencies
            .iter()
            .filter(|d| d.installed.is_none())
            .map(|d| match &d.available {
                Some(v) => format!("{} {v}", d.id),
                None => d.id.clone(),
            })
            .collect();
        let also = if coming.is_empty() {
            String::new()
        } else {
            format!(" with what it needs ({})", coming.join(", "))
        };
        let confirm = format!(
            "Request the installation of {} {}{also}? Nothing is installed yet: the request goes to Approvals, where an owner or admin grants or refuses each of the {capability_count} {} it asks for.",
            summary.name,
            summary.version,
            if capability_count == 1 {
                "capability"
            } else {
                "capabilities"
            }
        );
        let id = summary.id.clone();
        let version = summary.version.clone();
        view! {
            <details class="text-sm" data-testid="install-state" data-state="available">
                <summary class=format!("{PRIMARY_BUTTON} cursor-pointer list-none") data-testid="install-button">"Install…"</summary>
                <div class="mt-3 max-w-xl space-y-3 rounded-md border border-slate-200 bg-slate-50 p-4 dark:border-slate-700 dark:bg-slate-950">
                    <p data-testid="install-confirm">{confirm}</p>
                    <ActionForm action=install>
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="version" value=version/>
                        <div class="flex items-center gap-2">
                            <input id="install-enable" type="checkbox" name="enable" value="true" checked=true class="h-4 w-4 rounded border-slate-300 text-indigo-600 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500"/>
                            <label for="install-enable">"Enable it once it is approved and installed"</label>
                        </div>
                        <button type="submit" class=format!("{PRIMARY_BUTTON} mt-3") data-testid="install-submit" disabled=move || install.pending().get()>
                            {move || if install.pending().get() { "Checking the package…" } else { "Request installation" }}
                        </button>
                    </ActionForm>
                </div>
            </details>
        }
        .into_any()
    };
    view! {
        <section aria-labelledby="install-title" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            <h2 id="install-title" class="mb-3 text-base font-semibold">"Install"</h2>
            <div class="space-y-3">
                <ErrorBanner error/>
                {sent}
                {state}
            </div>
        </section>
    }
    .into_any()
}

fn disabled_install(reason: String) -> AnyView {
    view! {
        <div class="space-y-2 text-sm" data-testid="install-state" data-state="unavailable">
            <button type="button" class=PRIMARY_BUTTON disabled=true aria-describedby="install-why" data-testid="install-button">"Install"</button>
            <p id="install-why" class=MUTED>{reason}</p>
        </div>
    }
    .into_any()
}

#[component]
fn Compatibility(
    kernel_api: String,
    kernel: String,
    incompatible: Option<String>,
) -> impl IntoView {
    view! {
        <Card title="Compatibility">
            <div class="space-y-2 text-sm" data-testid="compatibility">
                {match incompatible {
                    None => view! { <p class="font-medium text-emerald-700 dark:text-emerald-300">"Runs on this MagFlock."</p> }.into_any(),
                    Some(reason) => view! { <p class="font-medium text-red-700 dark:text-red-300" data-testid="incompatible-marker">{format!("Incompatible: {reason}")}</p> }.into_any(),
                }}
                <p class=MUTED>{format!("Needs kernel API {kernel_api}; this instance serves {kernel}.")}</p>
            </div>
        </Card>
    }
    .into_any()
}

#[component]
fn Dependencies(dependencies: Vec<DependencyInfo>) -> impl IntoView {
    view! {
        <Card title="Dependencies">
            {if dependencies.is_empty() {
                view! { <p class=MUTED>"None: it needs no other extension."</p> }.into_any()
            } else {
                view! {
                    <ul class="space-y-2 text-sm" data-testid="dependencies">
                        {dependencies.into_iter().map(|d| {
                            let status = match (&d.installed, &d.available) {
                                (Some(v), _) => format!("installed (v{v})"),
                                (None, Some(v)) => format!("installed with it (v{v} from the catalog)"),
                                (None, None) => "not available in any catalog: the install will be refused".to_string(),
                            };
                            view! {
                                <li>
                                    <a href=format!("/marketplace/{}", d.id) class=format!("{LINK} font-mono text-xs")>{d.id.clone()}</a>
                                    <span class="text-xs text-slate-500">{format!(" {}", d.requirement)}</span>
                                    <p class="text-xs text-slate-600 dark:text-slate-300">{status}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </Card>
    }
    .into_any()
}

#[component]
fn Versions(versions: Vec<VersionInfo>, current: String, href: String) -> impl IntoView {
    view! {
        <Card title="Versions">
            <ul class="space-y-2 text-sm" data-testid="versions">
                {versions.into_iter().map(|v| {
                    let is_current = v.version == current;
                    let link = format!("{href}?version={}", encode_query_value(&v.version));
                    view! {
                        <li class="flex flex-wrap items-center gap-2">
                            {if is_current {
                                view! { <span class="font-medium" aria-current="page">{format!("v{} (shown)", v.version)}</span> }.into_any()
                            } else {
                                view! { <a href=link class=LINK>{format!("v{}", v.version)}</a> }.into_any()
                            }}
                            <SignatureBadgeView badge=v.signature/>
                            {v.incompatible.map(|reason| view! { <span class="w-full text-xs text-red-700 dark:text-red-300">{format!("Incompatible: {reason}")}</span> })}
                            <span class="w-full text-xs text-slate-500">{v.source}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </Card>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_summaries_count_highest_first() {
        assert_eq!(risk_summary(&[]), "No capabilities requested");
        assert_eq!(
            risk_summary(&[RiskLevel::Low, RiskLevel::Critical, RiskLevel::Low]),
            "3 capabilities: 1 critical, 2 low"
        );
        assert_eq!(risk_summary(&[RiskLevel::Medium]), "1 capability: 1 medium");
        assert_eq!(format_size(2048), "2 KB");
    }
}
