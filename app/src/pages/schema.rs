//! The Schema Explorer (`/projects/:name/schema?table=<schema.table>&tab=`):
//! a project database's schemas and tables, and for the chosen table its
//! columns, indexes and row-level-security policies, plus one tab per
//! extension that contributes to the explorer (drawn from its declarative
//! view; a broken view is an error inside its tab). Owners and admins run
//! migrations here; the explorer shows the result at once.
//!
//! Tables and tabs are links, so every view has an address and works with
//! the keyboard and before the page is hydrated.

use super::projects::{LINK, NOTE, SUCCESS, can_manage, message_for, other_error};
use crate::AppError;
use crate::api::projects::{
    DbEngine, ExplorerContribution, MigrationOutcome, RunMigration, SchemaView, TableView,
    describe_schema, schema_explorer_views,
};
use crate::api::widgets::RunViewCommand;
use crate::app::encode_query_value;
use crate::components::declarative::{DeclarativeView, ViewCommand, ViewError};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error};
use crate::components::ui::{Card, DataTable, Field, PRIMARY_BUTTON, PageHeader, TextArea};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

const BADGE: &str = "inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium";
const GREY: &str = "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100";
const GREEN: &str = "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200";
const INDIGO: &str = "bg-indigo-100 text-indigo-800 dark:bg-indigo-900/60 dark:text-indigo-200";

/// The built-in tabs: (query value, label).
const TABS: [(&str, &str); 3] = [
    ("columns", "Columns"),
    ("indexes", "Indexes"),
    ("security", "Row-level security"),
];

/// The query value of an extension's tab.
fn extension_tab(extension: &str) -> String {
    format!("ext:{extension}")
}

fn explorer_href(project: &str, table: &str, tab: &str) -> String {
    format!(
        "/projects/{}/schema?table={}&tab={}",
        encode_query_value(project),
        encode_query_value(table),
        encode_query_value(tab)
    )
}

#[component]
pub fn SchemaPage() -> impl IntoView {
    let params = use_params_map();
    let project = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let query = use_query_map();
    let selected = Memo::new(move |_| query.read().get("table").filter(|t| !t.is_empty()));
    let tab = Memo::new(move |_| {
        query
            .read()
            .get("tab")
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "columns".to_string())
    });
    let migrate = ServerAction::<RunMigration>::new();
    let schema = Resource::new(
        move || (project.get(), migrate.version().get()),
        |(project, _)| describe_schema(project),
    );
    // What extensions add to the chosen table (the one in the address, else
    // the first). Made here with the page's other resources, not in the table
    // panel: a resource made inside a `Suspense` gets its number (which pairs
    // the server's answer with the browser's resource at hydration) only once
    // the schema has arrived, in whatever order the server's pending work
    // finishes, and the browser may then pair it with another one's answer.
    let views = Resource::new(
        move || (project.get(), selected.get(), migrate.version().get()),
        move |(project, selected, _)| async move {
            let chosen = schema.await.ok().and_then(|described| {
                chosen_table(&described.tables, selected.as_deref())
                    .ok()
                    .flatten()
            });
            match chosen {
                Some(table) => schema_explorer_views(project, table.schema, table.name).await,
                None => Ok(Vec::new()),
            }
        },
    );
    view! {
        <p class="mb-4 text-sm">
            <a href=move || format!("/projects/{}", project.get()) class=LINK>{move || format!("← Project {}", project.get())}</a>
        </p>
        <PageHeader title="Schema Explorer" description="Schemas, tables, columns, indexes and row-level-security policies of the project's database."/>
        <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Reading the database…"</p> }>
            {move || Suspend::new(async move {
                match schema.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable | AppError::NotFound(_))) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(described) => view! { <Explorer described selected tab views/> }.into_any(),
                }
            })}
        </Transition>
        // Outside the explorer's Transition, so a refused migration keeps its SQL.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                if can_manage().await {
                    view! { <MigrationForm project=project.get_untracked() migrate/> }.into_any()
                } else {
                    view! { <p class=format!("{NOTE} mt-6") data-testid="read-only">"Your role can explore the schema but not change it; an owner or admin runs migrations."</p> }.into_any()
                }
            })}
        </Suspense>
    }
}

/// The table the explorer shows: the one named in the address (`Err` with its
/// key when there is no such table), else the first one, if any.
fn chosen_table(tables: &[TableView], selected: Option<&str>) -> Result<Option<TableView>, String> {
    match selected {
        None => Ok(tables.first().cloned()),
        Some(key) => tables
            .iter()
            .find(|t| t.key() == key)
            .cloned()
            .map(Some)
            .ok_or_else(|| key.to_string()),
    }
}

#[component]
fn Explorer(
    described: SchemaView,
    selected: Memo<Option<String>>,
    tab: Memo<String>,
    views: Resource<Result<Vec<ExplorerContribution>, AppError>>,
) -> impl IntoView {
    let project = described.project.clone();
    let engine = described.engine;
    let tables = described.tables.clone();
    let chosen = {
        let tables = tables.clone();
        move || chosen_table(&tables, selected.get().as_deref())
    };
    let current_key = {
        let chosen = chosen.clone();
        move || chosen().ok().flatten().map(|t| t.key())
    };
    let nav_project = project.clone();
    view! {
        <div class="grid grid-cols-1 gap-6 md:grid-cols-[15rem_1fr]" data-testid="schema-explorer" data-engine=format!("{engine:?}").to_lowercase()>
            <nav aria-label="Tables" class="rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <p class="mb-3 text-xs text-slate-500 dark:text-slate-400">{engine.label()}</p>
                {described.schemas.iter().map(|schema| {
                    let in_schema: Vec<TableView> = tables.iter().filter(|t| &t.schema == schema).cloned().collect();
                    let project = nav_project.clone();
                    let current_key = current_key.clone();
                    view! {
                        <div class="mb-4" data-testid="schema" data-schema=schema.clone()>
                            <h2 class="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400">{schema.clone()}</h2>
                            {if in_schema.is_empty() {
                                view! { <p class="text-xs text-slate-500">"No tables."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="space-y-0.5">
                                        {in_schema.into_iter().map(|t| {
                                            let key = t.key();
                                            let href = explorer_href(&project, &key, "columns");
                                            let current_key = current_key.clone();
                                            let is_current = move || current_key().as_deref() == Some(key.as_str());
                                            view! {
                                                <li>
                                                    <a href=href
                                                        aria-current=move || is_current().then_some("page")
                                                        data-testid="table-link"
                                                        class="flex items-center justify-between gap-2 rounded px-2 py-1 font-mono text-xs hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 aria-[current=page]:bg-indigo-50 aria-[current=page]:font-semibold aria-[current=page]:text-indigo-800 dark:hover:bg-slate-800 dark:aria-[current=page]:bg-indigo-950 dark:aria-[current=page]:text-indigo-200">
                                                        <span class="truncate">{t.name.clone()}</span>
                                                        {t.is_view.then(|| view! { <span class=format!("{BADGE} {GREY}")>"view"</span> })}
                                                    </a>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </div>
                    }
                }).collect_view()}
            </nav>
            <div class="min-w-0">
                {move || match chosen() {
                    Err(key) => view! {
                        <Card>
                            <p class="text-sm" role="alert">{format!("There is no table {key} in this database; it may have been dropped. Choose one on the left.")}</p>
                        </Card>
                    }.into_any(),
                    Ok(None) => view! {
                        <Card>
                            <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-tables">"This database has no tables yet. Run a migration below to create the first one."</p>
                        </Card>
                    }.into_any(),
                    Ok(Some(table)) => view! { <TablePanel project=project.clone() engine table tab views/> }.into_any(),
                }}
            </div>
        </div>
    }
}

#[component]
fn TablePanel(
    project: String,
    engine: DbEngine,
    table: TableView,
    tab: Memo<String>,
    views: Resource<Result<Vec<ExplorerContribution>, AppError>>,
) -> impl IntoView {
    let key = table.key();
    let tab_link = {
        let (project, key) = (project.clone(), key.clone());
        move |value: String, label: String, testid: &'static str| {
            let href = explorer_href(&project, &key, &value);
            // Plain closures: these links are also made inside a Suspend,
            // where a signal created here would not outlive the suspense.
            let selected = value.clone();
            view! {
                <a href=href role="tab" data-testid=testid
                    aria-selected=move || (tab.get() == selected).to_string()
                    aria-current=move || (tab.get() == value).then_some("page")
                    class="whitespace-nowrap border-b-2 border-transparent px-3 py-2 text-sm font-medium text-slate-600 hover:text-slate-900 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 aria-[current=page]:border-indigo-600 aria-[current=page]:text-indigo-700 dark:text-slate-300 dark:hover:text-white dark:aria-[current=page]:text-indigo-300">
                    {label}
                </a>
            }
        }
    };
    let builtin_links = TABS
        .iter()
        .map(|(value, label)| tab_link(value.to_string(), label.to_string(), "explorer-tab"))
        .collect_view();
    let extension_links = {
        let tab_link = tab_link.clone();
        move || {
            let tab_link = tab_link.clone();
            Suspend::new(async move {
                views.await.ok().map(|views| {
                    views
                        .into_iter()
                        .map(|v| tab_link(extension_tab(&v.extension), v.title, "extension-tab"))
                        .collect_view()
                })
            })
        }
    };
    let kind = if table.is_view { "View" } else { "Table" };
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let summary = format!(
        "{} · {}",
        count(table.columns.len(), "column", "columns"),
        count(table.indexes.len(), "index", "indexes")
    );
    let body = {
        let table = table.clone();
        move || match tab.get().as_str() {
            "indexes" => view! { <IndexesTab table=table.clone()/> }.into_any(),
            "security" => view! { <SecurityTab table=table.clone() engine/> }.into_any(),
            value if value.starts_with("ext:") => {
                let extension = value.trim_start_matches("ext:").to_string();
                view! { <ExtensionTab views extension/> }.into_any()
            }
            _ => view! { <ColumnsTab table=table.clone()/> }.into_any(),
        }
    };
    view! {
        <section class="rounded-lg border border-slate-200 bg-white shadow-sm dark:border-slate-800 dark:bg-slate-900" data-testid="table-panel" data-table=key.clone() aria-labelledby="table-title">
            <header class="flex flex-wrap items-baseline gap-x-3 gap-y-1 px-5 pt-5">
                <h2 id="table-title" class="font-mono text-lg font-semibold">{key.clone()}</h2>
                <span class=format!("{BADGE} {GREY}")>{kind}</span>
                <span class="text-xs text-slate-500 dark:text-slate-400">{summary}</span>
            </header>
            <div role="tablist" aria-label="Table details" class="mt-3 flex gap-1 overflow-x-auto border-b border-slate-200 px-3 dark:border-slate-800">
                {builtin_links}
                <Transition fallback=|| ()>{extension_links}</Transition>
            </div>
            <div role="tabpanel" class="p-5" data-testid="tab-panel" data-tab=move || tab.get()>{body}</div>
        </section>
    }
}

#[component]
fn ColumnsTab(table: TableView) -> impl IntoView {
    if table.columns.is_empty() {
        return view! { <p class="text-sm text-slate-600 dark:text-slate-300">"This table has no columns."</p> }.into_any();
    }
    view! {
        <DataTable testid="columns-table" columns=vec!["Column", "Type", "Nullable", "Default"]>
            {table.columns.into_iter().map(|c| view! {
                <tr data-testid="column" data-column=c.name.clone()>
                    <td class="py-2 pr-4 font-mono text-xs">
                        {c.name.clone()}
                        {c.primary_key.then(|| view! { <span class=format!("{BADGE} {INDIGO} ml-2 font-sans")>"primary key"</span> })}
                    </td>
                    <td class="py-2 pr-4 font-mono text-xs">{if c.data_type.is_empty() { "(no declared type)".to_string() } else { c.data_type.clone() }}</td>
                    <td class="py-2 pr-4">{if c.nullable { "yes" } else { "no" }}</td>
                    <td class="py-2 break-all font-mono text-xs text-slate-600 dark:text-slate-300">{c.default.clone().unwrap_or_else(|| "—".into())}</td>
                </tr>
            }).collect_view()}
        </DataTable>
    }
    .into_any()
}

#[component]
fn IndexesTab(table: TableView) -> impl IntoView {
    if table.indexes.is_empty() {
        return view! { <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-indexes">"This table has no indexes."</p> }.into_any();
    }
    view! {
        <DataTable testid="indexes-table" columns=vec!["Index", "Columns", "Kind", "Definition"]>
            {table.indexes.into_iter().map(|i| {
                let kind = if i.primary { "primary key" } else if i.unique { "unique" } else { "index" };
                view! {
                    <tr data-testid="index" data-index=i.name.clone()>
                        <td class="py-2 pr-4 font-mono text-xs">{i.name.clone()}</td>
                        <td class="py-2 pr-4 font-mono text-xs">{i.columns.join(", ")}</td>
                        <td class="py-2 pr-4">{kind}</td>
                        <td class="py-2 break-all font-mono text-xs text-slate-600 dark:text-slate-300">{i.definition.clone().unwrap_or_else(|| "(created automatically)".into())}</td>
                    </tr>
                }
            }).collect_view()}
        </DataTable>
    }
    .into_any()
}

#[component]
fn SecurityTab(table: TableView, engine: DbEngine) -> impl IntoView {
    let Some(security) = table.row_security else {
        let why = match engine {
            DbEngine::Sqlite => {
                "Row-level security is not available on this engine: project databases are embedded SQLite files here. Configure MAGDS_URL to keep them on PostgreSQL."
            }
            DbEngine::Postgres => "Row-level security does not apply to this object.",
        };
        return view! { <p class=NOTE data-testid="rls-unavailable">{why}</p> }.into_any();
    };
    let state = if security.enabled {
        view! { <span class=format!("{BADGE} {GREEN}")>{if security.forced { "Enabled (also for the owner)" } else { "Enabled" }}</span> }.into_any()
    } else {
        view! { <span class=format!("{BADGE} {GREY}")>"Disabled"</span> }.into_any()
    };
    let empty = match security.enabled {
        true => {
            "No policies: with row-level security on and no policy, only the table's owner (and roles that bypass row-level security) see its rows."
        }
        false => {
            "No policies. Row-level security is off: every role with privileges on the table sees every row."
        }
    };
    view! {
        <div class="space-y-4" data-testid="rls" data-enabled=security.enabled.to_string()>
            <p class="flex items-center gap-2 text-sm">"Row-level security:" {state}</p>
            {if security.policies.is_empty() {
                view! { <p class="text-sm text-slate-600 dark:text-slate-300">{empty}</p> }.into_any()
            } else {
                view! {
                    <DataTable testid="policies-table" columns=vec!["Policy", "Command", "Type", "Roles", "Using", "With check"]>
                        {security.policies.into_iter().map(|p| view! {
                            <tr data-testid="policy" data-policy=p.name.clone()>
                                <td class="py-2 pr-4 font-mono text-xs">{p.name.clone()}</td>
                                <td class="py-2 pr-4">{p.command.clone()}</td>
                                <td class="py-2 pr-4">{if p.permissive { "permissive" } else { "restrictive" }}</td>
                                <td class="py-2 pr-4 font-mono text-xs">{p.roles.join(", ")}</td>
                                <td class="py-2 pr-4 break-all font-mono text-xs">{p.using.clone().unwrap_or_else(|| "—".into())}</td>
                                <td class="py-2 break-all font-mono text-xs">{p.check.clone().unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }).collect_view()}
                    </DataTable>
                }.into_any()
            }}
        </div>
    }
    .into_any()
}

/// One extension's tab: its view, or why it cannot be shown. Admins may run
/// the commands its buttons and forms name.
#[component]
fn ExtensionTab(
    views: Resource<Result<Vec<ExplorerContribution>, AppError>>,
    extension: String,
) -> impl IntoView {
    let run = ServerAction::<RunViewCommand>::new();
    let run_error = action_error(run);
    let busy = Signal::derive(move || run.pending().get());
    let marker = extension.clone();
    view! {
        <div class="space-y-3" data-testid="extension-view" data-extension=marker>
            <ErrorBanner error=run_error/>
            {move || run.value().get().and_then(|r| r.ok()).map(|output| view! {
                <p role="status" class=format!("{SUCCESS} whitespace-pre-wrap")>{if output.trim().is_empty() { "Done.".to_string() } else { output }}</p>
            })}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Asking the extension…"</p> }>
                {
                    move || {
                        let extension = extension.clone();
                        Suspend::new(async move {
                            let acting = can_manage().await;
                            match views.await {
                                Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                                Ok(views) => match views.into_iter().find(|v| v.extension == extension) {
                                    None => view! { <p class=NOTE>{format!("{extension} does not contribute to the schema explorer now (it may have been disabled, or its permission to extend the explorer revoked).")}</p> }.into_any(),
                                    Some(ExplorerContribution { view: Err(message), .. }) => view! { <ViewError message/> }.into_any(),
                                    Some(ExplorerContribution { view: Ok(node), extension, .. }) => {
                                        let on_command = acting.then(|| Callback::new(move |(command, args): ViewCommand| {
                                            run.dispatch(RunViewCommand {
                                                extension: extension.clone(),
                                                command,
                                                args: serde_json::to_string(&args).unwrap_or_else(|_| "[]".into()),
                                            });
                                        }));
                                        view! { <DeclarativeView node on_command busy/> }.into_any()
                                    }
                                },
                            }
                        })
                    }
                }
            </Transition>
        </div>
    }
}

#[component]
fn MigrationForm(project: String, migrate: ServerAction<RunMigration>) -> impl IntoView {
    let error = action_error(migrate);
    let migration_error = message_for(error, "migration");
    let sql_error = message_for(error, "sql");
    let banner = other_error(error, &["migration", "sql"]);
    let outcome_project = project.clone();
    let (name_input, sql_input) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Textarea>::new(),
    );
    // An applied migration leaves the form empty for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = migrate.value().get() {
            if let Some(input) = name_input.get_untracked() {
                input.set_value("");
            }
            if let Some(input) = sql_input.get_untracked() {
                input.set_value("");
            }
        }
    });
    view! {
        <div class="mt-6 max-w-3xl" data-testid="migration-form">
            <Card title="Run a migration">
                <ActionForm action=migrate>
                    <div class="space-y-4">
                        <ErrorBanner error=banner/>
                        {move || migrate.value().get().and_then(|r| r.ok()).map(|outcome| view! { <MigrationApplied project=outcome_project.clone() outcome/> })}
                        <input type="hidden" name="project" value=project/>
                        <Field label="Migration name" name="migration" node_ref=name_input required=true autocomplete="off" spellcheck=false placeholder="001_create_orders" class="font-mono" error=migration_error
                            hint="Each name runs once; the project's migration history records it."/>
                        <TextArea label="SQL" name="sql" node_ref=sql_input rows=8 required=true spellcheck=false class="font-mono text-xs" error=sql_error
                            placeholder="CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL);"
                            hint="Runs in one transaction: all of it is applied or none. Do not write BEGIN or COMMIT. Extensions are told which tables changed, and the audit log records it."/>
                        <button type="submit" class=PRIMARY_BUTTON disabled=move || migrate.pending().get()>
                            {move || if migrate.pending().get() { "Running…" } else { "Run migration" }}
                        </button>
                    </div>
                </ActionForm>
            </Card>
        </div>
    }
}

#[component]
fn MigrationApplied(project: String, outcome: MigrationOutcome) -> impl IntoView {
    let applied = outcome.migration;
    view! {
        <div role="status" class=SUCCESS data-testid="migration-applied">
            <p>{format!("Applied migration {} in {} ms.", applied.name, applied.duration_ms)}</p>
            <ul class="mt-1 list-disc pl-5">
                {outcome.changes.into_iter().map(|change| match (change.schema, change.table) {
                    (Some(schema), Some(table)) => {
                        let key = format!("{schema}.{table}");
                        let text = format!("{} {key}", change.change);
                        if change.change == "dropped" {
                            view! { <li>{text}</li> }.into_any()
                        } else {
                            view! { <li><a href=explorer_href(&project, &key, "columns") class=LINK>{text}</a></li> }.into_any()
                        }
                    }
                    _ => view! { <li>"No table's shape changed."</li> }.into_any(),
                }).collect_view()}
            </ul>
        </div>
    }
}
