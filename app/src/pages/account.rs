//! The signed-in user's own account: who they are, and changing their password.

use crate::api::session::ChangeOwnPassword;
use crate::app::signed_in_user;
use crate::components::errors::{ErrorBanner, action_error, field_error};
use crate::components::ui::{Card, Field, PRIMARY_BUTTON, PageHeader, RoleBadge};
use leptos::prelude::*;

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
                            <p role="status" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">"Password changed. Your other sessions were signed out."</p>
                        })}
                        <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" required=true invalid=invalid("current_password")/>
                        <Field label="New password" name="new_password" kind="password" autocomplete="new-password" required=true invalid=invalid("new_password")/>
                        <Field label="Confirm new password" name="new_password_confirm" kind="password" autocomplete="new-password" required=true invalid=invalid("new_password_confirm")/>
                        <button type="submit" class=PRIMARY_BUTTON disabled=move || change.pending().get()>"Change password"</button>
                    </div>
                </ActionForm>
            </Card>
        </div>
    }
}
