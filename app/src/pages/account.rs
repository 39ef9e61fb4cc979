//! The signed-in user's own account: who they are, changing their password,
//! and their personal access tokens (for the admin API and `mag login`):
//! made here, shown once, revoked with a confirmation step.
//!
//! [`TokenTable`] is also the Users page's list of everyone's tokens (owners).

use crate::api::session::ChangeOwnPassword;
use crate::api::tokens::{
    CreateToken, DEFAULT_DAYS, MAX_DAYS, MAX_NAME_CHARS, NewToken, RevokeToken, TokenInfo,
    TokenState, list_my_tokens,
};
use crate::app::signed_in_user;
use crate::components::errors::{ErrorBanner, action_error, field_error};
use crate::components::ui::{
    Card, DANGER_BUTTON, DataTable, Field, INPUT_CLASS, PRIMARY_BUTTON, PageHeader, RoleBadge,
    SECONDARY_BUTTON,
};
use leptos::prelude::*;
use magflock_types::time::format_utc;

const SUCCESS: &str = "rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200";

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangeOwnPassword>::new();
    let error = action_error(change);
    let invalid = move |field: &'static str| field_error(error, field);
    view! {
        <PageHeader title="Your account"/>
        <div class="grid gap-6 lg:grid-cols-2">
            <Card title="Profile">
                <Suspense fallback=|| ()>
                {move || Suspend::new(async move { signed_in_user().await.map(|u| view! {
                    <dl class="space-y-2 text-sm">
                        <div><dt class="text-slate-500">"Name"</dt><dd>{u.display_name}</dd></div>
                        <div><dt class="text-slate-500">"Email"</dt><dd>{u.email}</dd></div>
                        <div><dt class="text-slate-500">"Role"</dt><dd><RoleBadge role=u.role/></dd></div>
                    </dl>
                })})}
                </Suspense>
            </Card>
            <Card title="Change password">
                <ActionForm action=change>
                    <div class="space-y-4">
                        <ErrorBanner error/>
                        {move || matches!(change.value().get(), Some(Ok(()))).then(|| view! {
                            <p role="status" class=SUCCESS>"Password changed. Your other sessions were signed out."</p>
                        })}
                        <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" required=true invalid=invalid("current_password")/>
                        <Field label="New password" name="new_password" kind="password" autocomplete="new-password" required=true invalid=invalid("new_password")/>
                        <Field label="Confirm new password" name="new_password_confirm" kind="password" autocomplete="new-password" required=true invalid=invalid("new_password_confirm")/>
                        <button type="submit" class=PRIMARY_BUTTON disabled=move || change.pending().get()>"Change password"</button>
                    </div>
                </ActionForm>
            </Card>
        </div>
        <div class="mt-6">
            <PersonalTokens/>
        </div>
    }
}

/// The caller's own tokens: the list, the create form and the new secret.
#[component]
fn PersonalTokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_my_tokens(),
    );
    let create_error = action_error(create);
    let invalid = move |field: &'static str| field_error(create_error, field);
    let revoke_error = action_error(revoke);
    let name_hint =
        format!("What it is for, e.g. \"laptop\" or \"CI\". At most {MAX_NAME_CHARS} characters.");
    let days_hint = format!("1 to {MAX_DAYS}; empty means {DEFAULT_DAYS}.");
    view! {
        <Card title="Personal access tokens">
            <div class="space-y-6" data-testid="personal-tokens">
                <p class="max-w-3xl text-sm text-slate-600 dark:text-slate-300">
                    "A token lets scripts and the "<code class="font-mono">"mag"</code>" command-line tool ("<code class="font-mono">"mag login"</code>") use the admin API as you, with your role at the time of each request. Treat it like a password; revoke it when it is no longer needed. Creating and revoking tokens is recorded in the audit log."
                </p>
                <ActionForm action=create>
                    <div class="max-w-3xl space-y-4">
                    <ErrorBanner error=create_error/>
                    <div class="grid gap-4 sm:grid-cols-[2fr_1fr_auto] sm:items-start">
                        <Field label="Token name" name="name" id="token-name" required=true invalid=invalid("name") hint=name_hint/>
                        <Field label="Lifetime (days)" name="days" id="token-days" kind="number" value=DEFAULT_DAYS.to_string() invalid=invalid("days") hint=days_hint/>
                        <button type="submit" class=format!("{PRIMARY_BUTTON} sm:mt-6") disabled=move || create.pending().get()>"Create token"</button>
                    </div>
                    </div>
                </ActionForm>
                {move || create.value().get().and_then(|r| r.ok()).map(|made| view! { <ShownOnce made/> })}
                <ErrorBanner error=revoke_error/>
                {move || revoke.value().get().and_then(|r| r.ok()).map(|t| view! {
                    <p role="status" class=SUCCESS>{format!("Revoked {} ({}…). Requests made with it are refused from now on.", t.name, t.prefix)}</p>
                })}
                <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading tokens…"</p> }>
                    {move || Suspend::new(async move {
                        match tokens.await {
                            Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="no-tokens">"You have no personal access tokens yet."</p>
                            }.into_any(),
                            Ok(list) => view! { <TokenTable tokens=list show_user=false revoke testid="tokens-table"/> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </Card>
    }
}

/// A token just made: its secret once, with a copy button.
#[component]
fn ShownOnce(made: NewToken) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let (copied, set_copied) = signal(None::<bool>);
    let label = format!("New token {}", made.token.name);
    view! {
        <div class="max-w-3xl space-y-3 rounded-md border border-amber-300 bg-amber-50 p-4 text-amber-950 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-50" data-testid="new-token">
            <p class="text-sm font-semibold" role="status">{format!("Token \"{}\" created. Copy it now.", made.token.name)}</p>
            <div class="flex flex-wrap items-end gap-2">
                <div class="min-w-0 flex-1 space-y-1">
                    <label for="new-token-secret" class="block text-sm font-medium">{label}</label>
                    <input id="new-token-secret" node_ref=input type="text" readonly=true value=made.secret.clone() class=format!("{INPUT_CLASS} font-mono") autocomplete="off" spellcheck="false" on:focus=move |_| select(input)/>
                </div>
                <button type="button" class=SECONDARY_BUTTON on:click=move |_| set_copied.set(Some(copy(input)))>"Copy"</button>
            </div>
            {move || copied.get().map(|done| view! {
                <p class="text-xs">{if done { "Copied to the clipboard." } else { "This browser did not allow copying: the token is selected, press Ctrl+C (⌘C on a Mac)." }}</p>
            })}
            <p class="text-sm">"You will not see this token again: MagFlock keeps only its hash. If you lose it, revoke it and create a new one."</p>
        </div>
    }
}

/// Selects the token's text.
fn select(input: NodeRef<leptos::html::Input>) {
    #[cfg(feature = "hydrate")]
    if let Some(input) = input.get_untracked() {
        input.select();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = input;
}

/// Copies the token to the clipboard (and selects it); whether the browser allowed it.
fn copy(input: NodeRef<leptos::html::Input>) -> bool {
    select(input);
    #[cfg(feature = "hydrate")]
    {
        input
            .get_untracked()
            .is_some_and(|i| clipboard::write_text(&i.value()).is_ok())
    }
    #[cfg(not(feature = "hydrate"))]
    false
}

#[cfg(feature = "hydrate")]
mod clipboard {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// `navigator.clipboard.writeText` (absent outside secure contexts: an `Err`).
        #[wasm_bindgen(catch, js_namespace = ["navigator", "clipboard"], js_name = writeText)]
        pub fn write_text(text: &str) -> Result<JsValue, JsValue>;
    }
}

#[component]
fn StateBadge(state: TokenState) -> impl IntoView {
    let colour = match state {
        TokenState::Active => {
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200"
        }
        TokenState::Expired => {
            "bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200"
        }
        TokenState::Revoked => "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
    };
    view! { <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{state.label()}</span> }
}

/// `2026-11-25 21:31 UTC` (the table's width matters more than seconds).
fn minute(ms: i64) -> String {
    let full = format_utc(ms);
    match full.get(..16) {
        Some(head) => format!("{head} UTC"),
        None => full,
    }
}

fn when(ms: Option<i64>, none: &'static str) -> String {
    ms.map(minute).unwrap_or_else(|| none.to_string())
}

/// Tokens as a table (with their users' emails when `show_user`), each
/// active one with a revoke button behind a confirmation.
#[component]
pub fn TokenTable(
    tokens: Vec<TokenInfo>,
    show_user: bool,
    revoke: ServerAction<RevokeToken>,
    testid: &'static str,
) -> impl IntoView {
    let mut columns = vec![
        "Name",
        "Prefix",
        "Created",
        "Expires",
        "Last used",
        "State",
        "Actions",
    ];
    if show_user {
        columns.insert(0, "User");
    }
    view! {
        <DataTable testid=testid columns>
            {tokens.into_iter().map(|token| view! { <TokenRow token show_user revoke/> }).collect_view()}
        </DataTable>
    }
}

#[component]
fn TokenRow(token: TokenInfo, show_user: bool, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let cell = "py-3 pr-3 whitespace-nowrap font-mono text-xs text-slate-600 dark:text-slate-300";
    let user = token
        .user_email
        .clone()
        .unwrap_or_else(|| format!("deleted user {}", token.user_id));
    let confirm = format!(
        "Revoke \"{}\"? Scripts and tools using it stop working at once.",
        token.name
    );
    let button_label = format!("Yes, revoke {}", token.name);
    let id = token.id.clone();
    let active = token.state == TokenState::Active;
    view! {
        <tr data-testid="token-row" data-name=token.name.clone() data-state=token.state.as_str()>
            {show_user.then(|| view! { <td class="py-3 pr-3 text-sm">{user}</td> })}
            <td class="py-3 pr-3 font-medium">{token.name.clone()}</td>
            <td class=cell>{format!("{}…", token.prefix)}</td>
            <td class=cell title=format_utc(token.created_at)>{minute(token.created_at)}</td>
            <td class=cell>{when(token.expires_at, "never")}</td>
            <td class=cell>{when(token.last_used_at, "never")}</td>
            <td class="py-3 pr-3"><StateBadge state=token.state/></td>
            <td class="py-3">
                {active.then(|| view! {
                    <details class="text-sm">
                        <summary class=format!("{DANGER_BUTTON} cursor-pointer list-none")>"Revoke"</summary>
                        <div class="mt-2 w-64 space-y-2 rounded-md border border-slate-200 bg-white p-3 shadow-sm dark:border-slate-700 dark:bg-slate-900">
                            <p>{confirm}</p>
                            <ActionForm action=revoke>
                                <input type="hidden" name="id" value=id/>
                                <button type="submit" class=DANGER_BUTTON aria-label=button_label disabled=move || revoke.pending().get()>"Yes, revoke it"</button>
                            </ActionForm>
                        </div>
                    </details>
                })}
            </td>
        </tr>
    }
}
