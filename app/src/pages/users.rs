//! The Users page: every admin account, and (for owners and admins) creating
//! accounts, changing roles, disabling and enabling, and resetting passwords.
//! Controls for accounts the caller may not manage are not shown; the server
//! refuses them anyway. Below: the role templates extensions defined (which
//! grant nothing), and for owners every user's personal access tokens, with
//! revoke.

use crate::AppError;
use crate::api::roles::{RoleTemplate, list_role_templates};
use crate::api::tokens::{RevokeToken, TokenInfo, list_all_tokens};
use crate::api::users::{ChangeRole, CreateUser, ResetPassword, SetUserEnabled, list_users};
use crate::app::{SessionResource, signed_in_user};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error, field_error};
use crate::components::ui::{
    Card, DANGER_BUTTON, DataTable, Field, INPUT_CLASS, PRIMARY_BUTTON, PageHeader, RoleBadge,
    SECONDARY_BUTTON,
};
use crate::pages::account::TokenTable;
use leptos::prelude::*;
use magflock_types::time::format_utc;
use magflock_types::{Role, User};

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let change = ServerAction::<ChangeRole>::new();
    let toggle = ServerAction::<SetUserEnabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let users = Resource::new(
        move || {
            (
                create.version().get(),
                change.version().get(),
                toggle.version().get(),
            )
        },
        |_| list_users(),
    );
    let errors = [
        action_error(create),
        action_error(change),
        action_error(toggle),
        action_error(reset),
    ];
    let last_error = Signal::derive(move || errors.iter().find_map(|e| e.get()));
    let create_invalid = move |field: &'static str| field_error(action_error(create), field);
    let my_role = || async {
        signed_in_user()
            .await
            .map(|u| u.role)
            .unwrap_or(Role::Auditor)
    };
    // Asked only of the roles that may see them, so opening the page never
    // records a refusal.
    let session = expect_context::<SessionResource>().0;
    let role_now = move || async move {
        session
            .await
            .ok()
            .and_then(|s| s.user)
            .map(|u| u.role)
            .unwrap_or(Role::Auditor)
    };
    let templates = Resource::new(
        || (),
        move |_| async move {
            if role_now().await.can_manage() {
                list_role_templates().await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    let revoke = ServerAction::<RevokeToken>::new();
    let all_tokens = Resource::new(
        move || revoke.version().get(),
        move |_| async move {
            if role_now().await == Role::Owner {
                list_all_tokens().await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    view! {
        <PageHeader title="Users" description="Admin accounts of this instance. Owners manage everyone; admins manage admins and auditors."/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || {
                Suspend::new(async move {
                    let me = signed_in_user().await;
                    let my_id = me.as_ref().map(|u| u.id.clone()).unwrap_or_default();
                    let my_role = me.map(|u| u.role).unwrap_or(Role::Auditor);
                    match users.await {
                        Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                        Ok(list) => view! {
                            <div class="space-y-6">
                                <ErrorBanner error=last_error/>
                                {move || matches!(reset.value().get(), Some(Ok(()))).then(|| view! {
                                    <p role="status" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">"Password reset. That user's sessions were signed out."</p>
                                })}
                                <Card>
                                    <DataTable testid="users-table" columns=vec!["User", "Role", "Status", "Last sign-in", "Actions"]>
                                                {list.into_iter().map(|u| view! { <UserRow user=u.clone() my_role is_me=u.id == my_id change toggle reset/> }).collect_view()}
                                            </DataTable>
                                </Card>
                            </div>
                        }.into_any(),
                    }
                })
            }}
        </Suspense>
        // Only owners and admins see the form; it lives outside the list's Suspense so
        // a failed attempt keeps what was typed.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let role = my_role().await;
                role.can_manage().then(|| view! {
                <div class="mt-6 max-w-xl">
                    <Card title="Add a user">
                        <ActionForm action=create>
                            <div class="space-y-4">
                                {move || create.value().get().and_then(|r| r.ok()).map(|u| view! {
                                    <p role="status" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">{format!("Created {} as {}.", u.email, u.role.label())}</p>
                                })}
                                <Field label="Email" name="email" kind="email" required=true invalid=create_invalid("email")/>
                                <Field label="Display name" name="display_name" required=true invalid=create_invalid("display_name")/>
                                <div class="space-y-1">
                                    <label for="new-user-role" class="block text-sm font-medium">"Role"</label>
                                    <select id="new-user-role" name="role" class=INPUT_CLASS>
                                        {Role::ALL.into_iter().filter(|r| role.can_administer(*r)).map(|r| view! {
                                            <option value=r.as_str() selected=r == Role::Auditor>{format!("{} — {}", r.label(), r.description())}</option>
                                        }).collect_view()}
                                    </select>
                                </div>
                                <Field label="Initial password" name="password" kind="password" autocomplete="new-password" required=true invalid=create_invalid("password") hint="Share it privately; they can change it on their account page."/>
                                <button type="submit" class=PRIMARY_BUTTON disabled=move || create.pending().get()>"Create user"</button>
                            </div>
                        </ActionForm>
                    </Card>
                </div>
                })
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match templates.await {
                    Ok(None) => ().into_any(),
                    Ok(Some(list)) => view! { <div class="mt-6"><RoleTemplates list/></div> }.into_any(),
                    Err(error) => view! { <div class="mt-6"><ErrorBanner error=Signal::derive(move || Some(error.clone()))/></div> }.into_any(),
                }
            })}
        </Suspense>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match all_tokens.await {
                    Ok(None) => ().into_any(),
                    Ok(Some(list)) => view! { <div class="mt-6"><EveryonesTokens list revoke/></div> }.into_any(),
                    Err(error) => view! { <div class="mt-6"><ErrorBanner error=Signal::derive(move || Some(error.clone()))/></div> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The role templates extensions defined: names for sets of permissions,
/// which grant nothing.
#[component]
fn RoleTemplates(list: Vec<RoleTemplate>) -> impl IntoView {
    view! {
        <Card title="Role templates from extensions">
            <div class="space-y-4" data-testid="role-templates">
                <p class="max-w-3xl text-sm text-slate-600 dark:text-slate-300">
                    "Extensions may describe sets of permissions under a name. A template grants nothing: every account keeps exactly one of the roles owner, admin or auditor, and MagFlock checks that role on every request."
                </p>
                {if list.is_empty() {
                    view! { <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-role-templates">"No installed extension defines a role template."</p> }.into_any()
                } else {
                    view! {
                        <DataTable testid="role-templates-table" columns=vec!["Extension", "Template", "Permissions"]>
                            {list.into_iter().map(|t| {
                                let key = t.name.clone();
                                view! {
                                <tr data-testid="role-template-row" data-name=key>
                                    <td class="py-3 pr-3 font-mono text-xs">{t.extension}</td>
                                    <td class="py-3 pr-3 font-medium">{t.name}</td>
                                    <td class="py-3 pr-3">
                                        <ul class="flex flex-wrap gap-1">
                                            {t.permissions.into_iter().map(|p| view! { <li class="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs dark:bg-slate-800">{p}</li> }).collect_view()}
                                        </ul>
                                    </td>
                                </tr>
                                }
                            }).collect_view()}
                        </DataTable>
                    }.into_any()
                }}
            </div>
        </Card>
    }
}

/// Every user's personal access tokens (owners), with revoke.
#[component]
fn EveryonesTokens(list: Vec<TokenInfo>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let error = action_error(revoke);
    view! {
        <Card title="Personal access tokens of all users">
            <div class="space-y-4" data-testid="all-tokens">
                <p class="max-w-3xl text-sm text-slate-600 dark:text-slate-300">"As an owner you see every user's tokens and may revoke any of them; a revoked token is refused from its next request. Each user makes their own tokens on their account page."</p>
                <ErrorBanner error/>
                {move || revoke.value().get().and_then(|r| r.ok()).map(|t| view! {
                    <p role="status" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">{format!("Revoked {} ({}…).", t.name, t.prefix)}</p>
                })}
                {if list.is_empty() {
                    view! { <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-tokens">"Nobody has a personal access token."</p> }.into_any()
                } else {
                    view! { <TokenTable tokens=list show_user=true revoke testid="all-tokens-table"/> }.into_any()
                }}
            </div>
        </Card>
    }
}

#[component]
fn UserRow(
    user: User,
    my_role: Role,
    is_me: bool,
    change: ServerAction<ChangeRole>,
    toggle: ServerAction<SetUserEnabled>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    let manageable = my_role.can_administer(user.role) && !is_me;
    let id = user.id.clone();
    let active = user.is_active();
    let status = if active { "Active" } else { "Disabled" };
    let email = user.email.clone();
    let role_label = format!("Role of {email}");
    let role_select_id = format!("role-{}", user.id);
    let reset_field_id = format!("reset-{}", user.id);
    view! {
        <tr data-testid="user-row" data-email=email.clone()>
            <td class="py-3 pr-4">
                <div class="font-medium">{user.display_name.clone()}{is_me.then_some(" (you)")}</div>
                <div class="text-xs text-slate-500">{user.email.clone()}</div>
            </td>
            <td class="py-3 pr-4">
                {if manageable {
                    let id = id.clone();
                    view! {
                        <ActionForm action=change>
                            <div class="flex items-center gap-2">
                                <input type="hidden" name="user_id" value=id/>
                                <label class="sr-only" for=role_select_id.clone()>{role_label}</label>
                                <select id=role_select_id name="role" class="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900">
                                    {Role::ALL.into_iter().filter(|r| my_role.can_administer(*r)).map(|r| view! { <option value=r.as_str() selected=r == user.role>{r.label()}</option> }).collect_view()}
                                </select>
                                <button type="submit" class=SECONDARY_BUTTON>"Save"</button>
                            </div>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! { <RoleBadge role=user.role/> }.into_any()
                }}
            </td>
            <td class="py-3 pr-4">
                <span class:text-red-600=!active>{status}</span>
            </td>
            <td class="py-3 pr-4 text-xs text-slate-500">{user.last_login_at.map(format_utc).unwrap_or_else(|| "never".into())}</td>
            <td class="py-3">
                {manageable.then(|| {
                    let enabled = !active;
                    let reset_id = id.clone();
                    view! {
                        <div class="flex flex-wrap items-start gap-2">
                            <ActionForm action=toggle>
                                <input type="hidden" name="user_id" value=id.clone()/>
                                <input type="hidden" name="enabled" value=enabled.to_string()/>
                                <button type="submit" class=if enabled { SECONDARY_BUTTON } else { DANGER_BUTTON }>{if enabled { "Enable" } else { "Disable" }}</button>
                            </ActionForm>
                            <details class="text-sm">
                                <summary class="cursor-pointer rounded-md px-2 py-1.5 text-slate-700 hover:bg-slate-100 dark:text-slate-200 dark:hover:bg-slate-800">"Reset password"</summary>
                                <ActionForm action=reset>
                                    <div class="mt-2 flex gap-2">
                                        <input type="hidden" name="user_id" value=reset_id/>
                                        <Field label="New password" name="new_password" id=reset_field_id kind="password" autocomplete="new-password" required=true/>
                                        <button type="submit" class=format!("{SECONDARY_BUTTON} self-end")>"Set"</button>
                                    </div>
                                </ActionForm>
                            </details>
                        </div>
                    }
                })}
            </td>
        </tr>
    }
}
