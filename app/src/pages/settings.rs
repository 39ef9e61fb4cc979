//! Instance settings. Everyone may read them; owners and admins may change them.
//! Links lead to the trusted keys (`/settings/keys`) and, for owners and
//! admins, the sign-in providers (`/settings/sign-in`).

use crate::api::settings::{UpdateSettings, get_settings};
use crate::app::{SessionResource, signed_in_user};
use crate::components::errors::{ErrorBanner, ErrorPage, action_error, field_error};
use crate::components::ui::{Card, Field, PRIMARY_BUTTON, PageHeader};
use leptos::prelude::*;

const LINK: &str = "mt-3 inline-block rounded text-sm font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";

#[component]
pub fn SettingsPage() -> impl IntoView {
    let update = ServerAction::<UpdateSettings>::new();
    let settings = Resource::new(move || update.version().get(), |_| get_settings());
    let session = expect_context::<SessionResource>().0;
    Effect::new(move |_| {
        if let Some(Ok(_)) = update.value().get() {
            session.refetch();
        }
    });
    let error = action_error(update);
    let invalid = move |field: &'static str| field_error(error, field);
    view! {
        <PageHeader title="Settings" description="Instance-wide settings. Every change is recorded in the audit log."/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let can_edit = signed_in_user().await.is_some_and(|u| u.role.can_manage());
                let read_only = Signal::derive(move || !can_edit);
                match settings.await {
                    Err(error) => view! { <ErrorPage error/> }.into_any(),
                    Ok(s) => view! {
                        <Card>
                            <ActionForm action=update>
                                <div class="max-w-lg space-y-4">
                                    {(!can_edit).then(|| view! { <p class="rounded-md bg-slate-100 px-3 py-2 text-sm dark:bg-slate-800">"Your role can view these settings but not change them."</p> })}
                                    <ErrorBanner error/>
                                    {move || matches!(update.value().get(), Some(Ok(_))).then(|| view! {
                                        <p role="status" class="rounded-md bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200">"Settings saved."</p>
                                    })}
                                    <Field label="Instance name" name="instance_name" value=s.instance_name.clone() required=true disabled=read_only invalid=invalid("instance_name") hint="Shown in the console header and the browser title."/>
                                    <Field label="Idle session timeout (minutes)" name="session_idle_minutes" kind="number" value=s.session_idle_minutes.to_string() required=true disabled=read_only invalid=invalid("session_idle_minutes") hint="Applies to sign-ins from now on. 5 to 1440."/>
                                    <Field label="Maximum session length (hours)" name="session_max_hours" kind="number" value=s.session_max_hours.to_string() required=true disabled=read_only invalid=invalid("session_max_hours") hint="A session ends this long after sign-in, even if active. 1 to 720."/>
                                    {can_edit.then(|| view! { <button type="submit" class=PRIMARY_BUTTON disabled=move || update.pending().get()>"Save settings"</button> })}
                                </div>
                            </ActionForm>
                        </Card>
                    }.into_any(),
                }
            })}
        </Suspense>
        <div class="mt-6">
            <Card title="Trusted keys">
                <p class="text-sm text-slate-600 dark:text-slate-300">"Which publishers' extension packages may be installed, and whether unsigned packages are allowed (development only)."</p>
                <a href="/settings/keys" class=LINK data-testid="trusted-keys-link">"Manage trusted keys →"</a>
            </Card>
        </div>
        // Admins and owners only (the page refuses auditors).
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                signed_in_user().await.is_some_and(|u| u.role.can_manage()).then(|| view! {
                    <div class="mt-6">
                        <Card title="Sign-in providers">
                            <p class="text-sm text-slate-600 dark:text-slate-300">"The OpenID Connect provider this server is configured with, and the sign-in providers extensions contribute."</p>
                            <a href="/settings/sign-in" class=LINK data-testid="sign-in-link">"View sign-in providers →"</a>
                        </Card>
                    </div>
                })
            })}
        </Suspense>
    }
}
