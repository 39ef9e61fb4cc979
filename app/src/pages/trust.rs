//! Trusted keys (`/settings/keys`): the publisher keys packages may be signed
//! with, and the development setting that admits unsigned packages. Everyone
//! who may open Settings sees them; owners and admins add and remove publisher
//! keys; only owners trust first-party keys or change the development setting.
//! Controls a role cannot use are not shown; the server refuses them anyway.

use crate::AppError;
use crate::api::trust::{
    AddTrustedKey, KeyLevel, RemoveTrustedKey, SetAllowUnsigned, TrustedKeyInfo, list_trusted_keys,
};
use crate::app::signed_in_user;
use crate::components::errors::{ErrorBanner, ErrorPage, action_error, field_error};
use crate::components::ui::{
    Card, DANGER_BUTTON, DataTable, PRIMARY_BUTTON, PageHeader, Select, TextArea,
};
use leptos::prelude::*;
use magflock_types::Role;
use magflock_types::time::format_utc;

const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";
const SUCCESS: &str = "rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200";
const KEY_PLACEHOLDER: &str = "{\n  \"kind\": \"magflock-ed25519-public-key\",\n  \"publisher\": \"acme\",\n  \"key_id\": \"…\",\n  \"public\": \"…\"\n}";

#[component]
pub fn TrustedKeysPage() -> impl IntoView {
    let add = ServerAction::<AddTrustedKey>::new();
    let remove = ServerAction::<RemoveTrustedKey>::new();
    let toggle = ServerAction::<SetAllowUnsigned>::new();
    let overview = Resource::new(
        move || {
            (
                add.version().get(),
                remove.version().get(),
                toggle.version().get(),
            )
        },
        |_| list_trusted_keys(),
    );
    let remove_error = action_error(remove);
    let toggle_error = action_error(toggle);
    let list_error = Signal::derive(move || remove_error.get().or_else(|| toggle_error.get()));
    let my_role = || async {
        signed_in_user()
            .await
            .map(|u| u.role)
            .unwrap_or(Role::Auditor)
    };
    view! {
        <PageHeader title="Trusted keys" description="Extension packages install only when signed by one of these keys. Every change is recorded in the audit log."/>
        <p class="-mt-4 mb-6 text-sm"><a href="/settings" class=LINK>"← Back to Settings"</a></p>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let role = my_role().await;
                match overview.await {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok(trust) => view! {
                        <div class="space-y-6">
                            <ErrorBanner error=list_error/>
                            {move || remove.value().get().and_then(|r| r.ok()).map(|k| view! {
                                <p role="status" class=SUCCESS>{format!("Removed {}'s key {}. Packages signed with it are refused from now on.", k.publisher, k.key_id)}</p>
                            })}
                            <UnsignedSetting allow=trust.allow_unsigned can_change=role == Role::Owner toggle/>
                            <Card title="Keys">
                                {(!role.can_manage()).then(|| view! { <p class="mb-4 rounded-md bg-slate-100 px-3 py-2 text-sm dark:bg-slate-800">"Your role can view the trusted keys but not change them."</p> })}
                                {if trust.keys.is_empty() {
                                    view! {
                                        <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-keys">"No keys are trusted yet, so no signed package can be installed."</p>
                                    }.into_any()
                                } else {
                                    view! {
                                        <DataTable testid="keys-table" columns=key_columns(role)>
                                            {trust.keys.into_iter().map(|key| view! { <KeyRow info=key can_remove=role.can_manage() remove/> }).collect_view()}
                                        </DataTable>
                                    }.into_any()
                                }}
                            </Card>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
        // Outside the list's Suspense, so a refused attempt keeps what was pasted.
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let role = my_role().await;
                role.can_manage().then(|| view! { <AddKeyForm add owner=role == Role::Owner/> })
            })}
        </Suspense>
    }
}

/// The keys table's headings; an Actions column for roles that may remove.
fn key_columns(role: Role) -> Vec<&'static str> {
    let mut columns = vec!["Publisher", "Key id", "Level", "Added"];
    if role.can_manage() {
        columns.push("Actions");
    }
    columns
}

#[component]
fn LevelBadge(level: KeyLevel) -> impl IntoView {
    let colour = match level {
        KeyLevel::FirstParty => {
            "bg-purple-100 text-purple-800 dark:bg-purple-900/60 dark:text-purple-200"
        }
        KeyLevel::VerifiedPublisher => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
    };
    view! { <span class=format!("inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{level.label()}</span> }
}

/// The development setting: a loud warning while on; owners may switch it.
#[component]
fn UnsignedSetting(
    allow: bool,
    can_change: bool,
    toggle: ServerAction<SetAllowUnsigned>,
) -> impl IntoView {
    let only_owners = (!can_change).then(|| {
        view! { <p class="mt-3 text-xs opacity-80">"Only an owner can change this setting."</p> }
    });
    if allow {
        view! {
            <section aria-labelledby="allow-unsigned-title" data-testid="allow-unsigned" data-state="on" class="rounded-lg border-2 border-red-500 bg-red-50 p-5 text-red-900 shadow-sm dark:border-red-600 dark:bg-red-950/70 dark:text-red-100">
                <div class="flex flex-wrap items-start justify-between gap-4">
                    <div class="max-w-2xl space-y-2">
                        <h2 id="allow-unsigned-title" class="flex flex-wrap items-center gap-2 text-base font-semibold">
                            <span aria-hidden="true">"⚠"</span>
                            "Allow unsigned packages (development only)"
                            <span class="rounded-full bg-red-600 px-2 py-0.5 text-xs font-bold uppercase tracking-wide text-white">"On"</span>
                        </h2>
                        <p class="text-sm">"Unsigned packages can be installed. Anyone who may install extensions can install a package that no trusted key signed, so nothing vouches for where its code came from or that it was not changed."</p>
                        <p class="text-sm font-medium">"Turn this off on every instance that is not a development machine."</p>
                    </div>
                    {can_change.then(|| view! {
                        <ActionForm action=toggle>
                            <input type="hidden" name="allow" value="false"/>
                            <button type="submit" class=PRIMARY_BUTTON disabled=move || toggle.pending().get()>"Require signatures again"</button>
                        </ActionForm>
                    })}
                </div>
                {only_owners}
            </section>
        }
        .into_any()
    } else {
        view! {
            <section aria-labelledby="allow-unsigned-title" data-testid="allow-unsigned" data-state="off" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                <div class="flex flex-wrap items-start justify-between gap-4">
                    <div class="max-w-2xl space-y-1">
                        <h2 id="allow-unsigned-title" class="flex flex-wrap items-center gap-2 text-base font-semibold">
                            "Allow unsigned packages (development only)"
                            <span class="rounded-full bg-slate-200 px-2 py-0.5 text-xs font-medium text-slate-800 dark:bg-slate-700 dark:text-slate-100">"Off"</span>
                        </h2>
                        <p class="text-sm text-slate-600 dark:text-slate-300">"Only packages signed by a trusted key can be installed."</p>
                    </div>
                    {can_change.then(|| view! {
                        <details class="text-sm">
                            <summary class=format!("{DANGER_BUTTON} cursor-pointer list-none")>"Allow unsigned packages…"</summary>
                            <div class="mt-2 max-w-sm space-y-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100">
                                <p>"For development machines only: any package, signed or not, could then be installed by anyone who may install extensions."</p>
                                <ActionForm action=toggle>
                                    <input type="hidden" name="allow" value="true"/>
                                    <button type="submit" class=DANGER_BUTTON disabled=move || toggle.pending().get()>"Yes, allow unsigned packages"</button>
                                </ActionForm>
                            </div>
                        </details>
                    })}
                </div>
                {only_owners}
            </section>
        }
        .into_any()
    }
}

#[component]
fn KeyRow(
    info: TrustedKeyInfo,
    can_remove: bool,
    remove: ServerAction<RemoveTrustedKey>,
) -> impl IntoView {
    let key = info;
    let added_by = key
        .added_by
        .clone()
        .unwrap_or_else(|| "MagFlock (at first start)".into());
    let confirm = format!(
        "Stop trusting {}'s key? Installs and upgrades signed with it are refused from now on.",
        key.publisher
    );
    let button_label = format!("Remove key {} of {}", key.key_id, key.publisher);
    let remove_id = key.key_id.clone();
    view! {
        <tr data-testid="key-row" data-key-id=key.key_id.clone()>
            <td class="py-3 pr-4 font-medium">{key.publisher.clone()}</td>
            <td class="py-3 pr-4 break-all font-mono text-xs">{key.key_id.clone()}</td>
            <td class="py-3 pr-4"><LevelBadge level=key.level/></td>
            <td class="py-3 pr-4 text-xs text-slate-500 dark:text-slate-400">
                <div>{format!("by {added_by}")}</div>
                <div class="whitespace-nowrap font-mono">{format_utc(key.added_at)}</div>
            </td>
            {can_remove.then(|| view! {
                <td class="py-3">
                    <details class="text-sm">
                        <summary class=format!("{DANGER_BUTTON} cursor-pointer list-none")>"Remove"</summary>
                        <div class="mt-2 w-64 space-y-2 rounded-md border border-slate-200 bg-white p-3 shadow-sm dark:border-slate-700 dark:bg-slate-900">
                            <p>{confirm}</p>
                            <ActionForm action=remove>
                                <input type="hidden" name="key_id" value=remove_id/>
                                <button type="submit" class=DANGER_BUTTON aria-label=button_label disabled=move || remove.pending().get()>"Yes, remove this key"</button>
                            </ActionForm>
                        </div>
                    </details>
                </td>
            })}
        </tr>
    }
    .into_any()
}

#[component]
fn AddKeyForm(add: ServerAction<AddTrustedKey>, owner: bool) -> impl IntoView {
    let error = action_error(add);
    let key_invalid = field_error(error, "key");
    let key_input = NodeRef::<leptos::html::Textarea>::new();
    let level_hint = if owner {
        "Verified publisher: a third party you vouch for. First-party: MagFlock's own packages (owners only)."
    } else {
        "Verified publisher: a third party you vouch for. Only an owner can trust a first-party key."
    };
    // A key that was trusted leaves the box empty for the next one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get()
            && let Some(input) = key_input.get_untracked()
        {
            input.set_value("");
        }
    });
    view! {
        <div class="mt-6 max-w-2xl">
            <Card title="Add a publisher key">
                <ActionForm action=add>
                    <div class="space-y-4">
                        <ErrorBanner error/>
                        {move || add.value().get().and_then(|r| r.ok()).map(|k| view! {
                            <p role="status" class=SUCCESS>{format!("Trusted {}'s key {} as {}.", k.publisher, k.key_id, k.level.label())}</p>
                        })}
                        <TextArea label="Publisher's public key file (.public.json)" name="key" node_ref=key_input rows=7 required=true spellcheck=false autocomplete="off"
                            placeholder=KEY_PLACEHOLDER class="font-mono text-xs" invalid=key_invalid
                            hint="Paste the whole file that the publisher's mag keys:generate wrote (kind, publisher, key_id and public). Never paste a .secret.json."/>
                        <Select label="Trust level" name="level" hint=level_hint>
                            <option value=KeyLevel::VerifiedPublisher.as_str() selected=true>{KeyLevel::VerifiedPublisher.label()}</option>
                            {owner.then(|| view! { <option value=KeyLevel::FirstParty.as_str()>{KeyLevel::FirstParty.label()}</option> })}
                        </Select>
                        <button type="submit" class=PRIMARY_BUTTON disabled=move || add.pending().get()>"Trust this key"</button>
                    </div>
                </ActionForm>
            </Card>
        </div>
    }
}
