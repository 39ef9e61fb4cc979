//! First-run setup: create the owner account. Only reachable while no account
//! exists; afterwards it sends visitors to sign-in.

use super::login::{AuthCard, AuthGate, continue_after_success};
use crate::api::session::SessionState;
use crate::api::session::SetupOwner;
use crate::components::errors::{ErrorBanner, action_error, field_error};
use crate::components::ui::{Field, PRIMARY_BUTTON};
use leptos::prelude::*;
use magflock_types::check_password;

#[component]
pub fn SetupPage() -> impl IntoView {
    let setup = ServerAction::<SetupOwner>::new();
    continue_after_success(setup, || "/".to_string());
    let error = action_error(setup);
    let invalid = move |field: &'static str| field_error(error, field);
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let strength = move || {
        let pw = password.get();
        if pw.is_empty() {
            return (
                "Use 12 or more characters, mixing kinds, or a long passphrase.".to_string(),
                false,
            );
        }
        match check_password(&pw, &email.get(), &name.get()) {
            Ok(()) => ("Strong enough.".to_string(), true),
            Err(problem) => (problem.to_string(), false),
        }
    };
    let redirect =
        Callback::new(|state: SessionState| (!state.setup_needed).then(|| "/login".to_string()));
    view! {
        <AuthGate redirect>
            <AuthCard title="Welcome to MagFlock" subtitle="Create the owner account. The owner has full control of this instance and can invite other admins.">
                <ActionForm action=setup>
                    <div class="space-y-4">
                        <ErrorBanner error/>
                        <Field label="Email" name="email" kind="email" autocomplete="username" required=true invalid=invalid("email") on_input=Callback::new(move |v| email.set(v))/>
                        <Field label="Display name" name="display_name" autocomplete="name" required=true invalid=invalid("display_name") on_input=Callback::new(move |v| name.set(v))/>
                        <Field label="Password" name="password" kind="password" autocomplete="new-password" required=true invalid=invalid("password") on_input=Callback::new(move |v| password.set(v))/>
                        <p class="text-xs" data-testid="password-strength" class:text-emerald-600=move || strength().1 class:text-slate-500=move || !strength().1 aria-live="polite">
                            {move || strength().0}
                        </p>
                        <Field label="Confirm password" name="password_confirm" kind="password" autocomplete="new-password" required=true invalid=invalid("password_confirm")/>
                        <button type="submit" class=format!("{PRIMARY_BUTTON} w-full") disabled=move || setup.pending().get()>
                            {move || if setup.pending().get() { "Creating…" } else { "Create owner account" }}
                        </button>
                    </div>
                </ActionForm>
            </AuthCard>
        </AuthGate>
    }
}
