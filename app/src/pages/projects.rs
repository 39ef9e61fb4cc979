//! Projects (`/projects`, `/projects/:name`): the project databases MagDS
//! keeps. Everyone who may sign in sees them; owners and admins create a
//! project (an extension's refusal is shown under the name field) and delete
//! one after typing its name. Controls a role cannot use are not shown; the
//! server refuses them anyway.

use crate::AppError;
use crate::api::health::format_bytes;
use crate::api::projects::{
    CreateProject, DeleteProject, ProjectDetail, ProjectSummary, get_project, list_projects,
};
use crate::app::signed_in_user;
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{
    Card, DANGER_BUTTON, DataTable, Field, PRIMARY_BUTTON, PageHeader, Stat,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use magflock_types::time::format_utc;

pub(crate) const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";
pub(crate) const SUCCESS: &str = "rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200";
pub(crate) const NOTE: &str = "rounded-md bg-slate-100 px-3 py-2 text-sm text-slate-700 dark:bg-slate-800 dark:text-slate-200";
/// The message of `error` when it is about `field`.
pub(crate) fn message_for(
    error: Signal<Option<AppError>>,
    field: &'static str,
) -> Signal<Option<String>> {
    Signal::derive(move || {
        error
            .get()
            .filter(|e| e.field() == Some(field))
            .map(|e| e.to_string())
    })
}

/// The error of `error` unless it belongs to one of `fields` (shown there).
pub(crate) fn other_error(
    error: Signal<Option<AppError>>,
    fields: &'static [&'static str],
) -> Signal<Option<AppError>> {
    Signal::derive(move || {
        error
            .get()
            .filter(|e| !e.field().is_some_and(|f| fields.contains(&f)))
    })
}

/// The caller may create, delete and migrate.
pub(crate) async fn can_manage() -> bool {
    signed_in_user().await.is_some_and(|u| u.role.can_manage())
}

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let create = ServerAction::<CreateProject>::new();
    let projects = Resource::new(move || create.version().get(), |_| list_projects());
    let query = use_query_map();
    let deleted = move || query.read().get("deleted").filter(|d| !d.is_empty());
    view! {
        <PageHeader title="Projects" description="Each project has its own database, kept by MagDS. Creating and deleting projects is recorded in the audit log."/>
        {move || deleted().map(|name| view! {
            <p role="status" class=format!("{SUCCESS} mb-4") data-testid="project-deleted">{format!("Deleted project {name}: its database was dropped and its API keys revoked.")}</p>
        })}
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading projects…"</p> }>
            {move || Suspend::new(async move {
                match projects.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable | AppError::NotFound(_))) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(list) => view! {
                        <Card title=format!("Projects on {}", list.engine.label())>
                            {if list.projects.is_empty() {
                                view! {
                                    <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-projects">"No projects yet. A project gets its own database; create the first one below."</p>
                                }.into_any()
                            } else {
                                view! { <ProjectTable projects=list.projects/> }.into_any()
                            }}
                        </Card>
                    }.into_any(),
                }
            })}
        </Transition>
        // Outside the list's Transition, so a refused attempt keeps what was typed.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                if can_manage().await {
                    view! { <CreateProjectForm create/> }.into_any()
                } else {
                    view! { <p class=format!("{NOTE} mt-6") data-testid="read-only">"Your role can see projects but not create or delete them; an owner or admin does."</p> }.into_any()
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProjectTable(projects: Vec<ProjectSummary>) -> impl IntoView {
    view! {
        <DataTable testid="projects-table" columns=vec!["Name", "Owner", "Created", "Open"]>
                    {projects.into_iter().map(|p| {
                        let href = format!("/projects/{}", p.name);
                        let schema = format!("/projects/{}/schema", p.name);
                        view! {
                            <tr data-testid="project-row" data-project=p.name.clone()>
                                <td class="py-3 pr-4"><a href=href.clone() class=format!("{LINK} font-mono")>{p.name.clone()}</a></td>
                                <td class="py-3 pr-4 text-slate-600 dark:text-slate-300">{p.owner.clone()}</td>
                                <td class="py-3 pr-4 whitespace-nowrap font-mono text-xs text-slate-500">{format_utc(p.created_at)}</td>
                                <td class="py-3 space-x-3 whitespace-nowrap">
                                    <a href=href class=LINK aria-label=format!("Open project {}", p.name)>"Details"</a>
                                    <a href=schema class=LINK aria-label=format!("Open the schema of {}", p.name)>"Schema"</a>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </DataTable>
    }
}

#[component]
fn CreateProjectForm(create: ServerAction<CreateProject>) -> impl IntoView {
    let error = action_error(create);
    let name_error = message_for(error, "name");
    let region_error = message_for(error, "region");
    let banner = other_error(error, &["name", "region"]);
    let name_input = NodeRef::<leptos::html::Input>::new();
    // A project that was created leaves the name empty for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get()
            && let Some(input) = name_input.get_untracked()
        {
            input.set_value("");
        }
    });
    view! {
        <div class="mt-6 max-w-xl" data-testid="create-project">
            <Card title="Create a project">
                <ActionForm action=create>
                    <div class="space-y-4">
                        <ErrorBanner error=banner/>
                        {move || create.value().get().and_then(|r| r.ok()).map(|p| view! {
                            <p role="status" class=SUCCESS data-testid="project-created">
                                {format!("Created project {} with its database. ", p.name)}
                                <a href=format!("/projects/{}/schema", p.name) class=LINK>"Open its schema"</a>
                            </p>
                        })}
                        <Field label="Name" name="name" node_ref=name_input required=true autocomplete="off" spellcheck=false placeholder="sales_eu" class="font-mono" error=name_error
                            hint="Lower-case letters, digits and _; starts with a letter; at most 63 characters. It also names the database. Installed extensions may add their own rules."/>
                        <Field label="Region (optional)" name="region" autocomplete="off" placeholder="eu-west-1" error=region_error
                            hint="Passed to extensions that review new projects (such as data-residency rules). The database itself is created on this MagDS server."/>
                        <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>
                            {move || if create.pending().get() { "Creating…" } else { "Create project" }}
                        </button>
                    </div>
                </ActionForm>
            </Card>
        </div>
    }
}

#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let delete = ServerAction::<DeleteProject>::new();
    let detail = Resource::new(move || name.get(), get_project);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(deleted)) = delete.value().get() {
            navigate(&format!("/projects?deleted={deleted}"), Default::default());
        }
    });
    view! {
        <p class="mb-4 text-sm"><a href="/projects" class=LINK>"← All projects"</a></p>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading the project…"</p> }>
            {move || Suspend::new(async move {
                let can_manage = can_manage().await;
                match detail.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable | AppError::NotFound(_))) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(detail) => view! { <Detail detail can_manage delete/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    detail: ProjectDetail,
    can_manage: bool,
    delete: ServerAction<DeleteProject>,
) -> impl IntoView {
    let p = detail.project.clone();
    let schema_href = format!("/projects/{}/schema", p.name);
    let size = detail
        .size_bytes
        .map(|bytes| format_bytes(u64::try_from(bytes).unwrap_or_default()))
        .unwrap_or_else(|| "unknown".into());
    let connections = detail
        .connections
        .map(|c| c.to_string())
        .unwrap_or_else(|| "—".into());
    let connections_hint = if detail.connections.is_some() {
        "open to this database now"
    } else {
        "not tracked for embedded SQLite"
    };
    view! {
        <PageHeader title=p.name.clone() description=format!("A project database on {}.", detail.engine.label())/>
        <div class="space-y-6" data-testid="project-detail" data-project=p.name.clone()>
            <div class="flex flex-wrap gap-3">
                <a href=schema_href class=PRIMARY_BUTTON>"Open the Schema Explorer"</a>
            </div>
            {detail.health_error.clone().map(|error| view! {
                <p role="alert" class="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">{format!("The database's health could not be read: {error}")}</p>
            })}
            <dl class="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-4">
                <Stat label="Database size" value=size hint=detail.engine.label()/>
                <Stat label="Connections" value=connections hint=connections_hint/>
                <Stat label="Migrations" value=detail.migrations.len().to_string()/>
                <Stat label="Live API keys" value=detail.live_keys.to_string() hint="issued through MagGate"/>
            </dl>
            <Card title="Details">
                <dl class="grid grid-cols-[auto_1fr] gap-x-6 gap-y-2 text-sm">
                    <dt class="text-slate-500 dark:text-slate-400">"Project id"</dt><dd class="break-all font-mono text-xs">{p.id.clone()}</dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Created by"</dt><dd>{p.owner.clone()}</dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Created"</dt><dd class="font-mono text-xs">{format_utc(p.created_at)}</dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Database extensions"</dt>
                    <dd>{if p.extensions.is_empty() { "none".to_string() } else { p.extensions.join(", ") }}</dd>
                </dl>
            </Card>
            <Card title="Migrations">
                {if detail.migrations.is_empty() {
                    view! { <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-migrations">"No migration has been applied yet. Run one from the Schema Explorer."</p> }.into_any()
                } else {
                    view! {
                        <DataTable testid="migrations-table" columns=vec!["Name", "Applied", "Took"]>
                                    {detail.migrations.iter().map(|m| view! {
                                        <tr>
                                            <td class="py-2 pr-4 font-mono text-xs">{m.name.clone()}</td>
                                            <td class="py-2 pr-4 font-mono text-xs text-slate-500">{format_utc(m.applied_at)}</td>
                                            <td class="py-2 font-mono text-xs">{format!("{} ms", m.duration_ms)}</td>
                                        </tr>
                                    }).collect_view()}
                                </DataTable>
                    }.into_any()
                }}
            </Card>
            {if can_manage {
                view! { <DeleteProjectCard name=p.name.clone() live_keys=detail.live_keys delete/> }.into_any()
            } else {
                view! { <p class=NOTE data-testid="read-only">"Your role can see this project but not change it; an owner or admin does."</p> }.into_any()
            }}
        </div>
    }
}

/// Deleting, behind a confirmation that names the project and says what goes.
#[component]
fn DeleteProjectCard(
    name: String,
    live_keys: usize,
    delete: ServerAction<DeleteProject>,
) -> impl IntoView {
    let error = action_error(delete);
    let confirm_error = message_for(error, "confirm");
    let banner = other_error(error, &["confirm"]);
    let keys = match live_keys {
        0 => String::new(),
        1 => " Its live API key is revoked.".to_string(),
        n => format!(" Its {n} live API keys are revoked."),
    };
    let explain = format!(
        "Deleting project {name} drops its database with all its data; this cannot be undone.{keys} Backups already made are kept."
    );
    let label = format!("Type {name} to confirm");
    view! {
        <section aria-labelledby="danger-title" class="rounded-lg border border-red-300 bg-white p-5 shadow-sm dark:border-red-900 dark:bg-slate-900">
            <h2 id="danger-title" class="mb-2 text-base font-semibold text-red-800 dark:text-red-300">"Delete this project"</h2>
            <details class="text-sm" data-testid="delete-project">
                <summary class=format!("{DANGER_BUTTON} cursor-pointer list-none w-fit")>{format!("Delete {name}…")}</summary>
                <div class="mt-3 max-w-lg space-y-3 rounded-md border border-red-200 bg-red-50 p-4 text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100">
                    <p>{explain}</p>
                    <ActionForm action=delete>
                        <div class="space-y-3">
                            <ErrorBanner error=banner/>
                            <input type="hidden" name="name" value=name.clone()/>
                            <Field label name="confirm" required=true autocomplete="off" spellcheck=false class="font-mono text-slate-900 dark:text-slate-100" error=confirm_error/>
                            <button type="submit" class=DANGER_BUTTON disabled=move || delete.pending().get()>
                                {format!("Yes, delete {name} and its database")}
                            </button>
                        </div>
                    </ActionForm>
                </div>
            </details>
        </section>
    }
}
