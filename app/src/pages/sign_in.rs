//! Sign-in providers (`/settings/sign-in`, admins and owners): the OpenID
//! Connect provider the server is configured with (issuer, client id and the
//! redirect URI to register; never the client secret), and each provider a
//! running extension contributes, with its protocol, issuer, client id,
//! whether its configuration is valid and what this build does with it.

use crate::AppError;
use crate::api::providers::{
    BuiltInProvider, SignInProvider, builtin_sign_in_provider, list_sign_in_providers,
};
use crate::components::errors::{ErrorBanner, ErrorPage};
use crate::components::ui::{Card, DataTable, PageHeader};
use leptos::prelude::*;

const LINK: &str = "rounded font-medium text-indigo-600 hover:underline focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:text-indigo-400";
const MUTED: &str = "text-sm text-slate-600 dark:text-slate-300";

#[component]
pub fn SignInProvidersPage() -> impl IntoView {
    let builtin = Resource::new(|| (), |_| builtin_sign_in_provider());
    let providers = Resource::new(|| (), |_| list_sign_in_providers());
    view! {
        <PageHeader title="Sign-in providers" description="Where people can sign in to MagUI besides their password: the server's own OpenID Connect provider, and providers extensions contribute."/>
        <p class="-mt-4 mb-6 text-sm"><a href="/settings" class=LINK>"← Back to Settings"</a></p>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let found = match (builtin.await, providers.await) {
                    (Ok(builtin), Ok(providers)) => Ok((builtin, providers)),
                    (Err(error), _) | (_, Err(error)) => Err(error),
                };
                match found {
                    Err(error @ (AppError::Forbidden | AppError::Unauthenticated | AppError::Unavailable)) => view! { <ErrorPage error/> }.into_any(),
                    Err(error) => view! { <ErrorBanner error=Signal::derive(move || Some(error.clone()))/> }.into_any(),
                    Ok((builtin, providers)) => view! {
                        <div class="space-y-6">
                            <BuiltIn provider=builtin/>
                            <Contributed providers/>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn BuiltIn(provider: Option<BuiltInProvider>) -> impl IntoView {
    let body = match provider {
        None => view! {
            <div class="space-y-2" data-testid="no-builtin-provider">
                <p class=MUTED>"No OpenID Connect provider is configured, so people sign in with their email and password only."</p>
                <p class=MUTED>
                    "To add one, set "<code class="font-mono">"MAGFLOCK_OIDC_ISSUER"</code>", "<code class="font-mono">"MAGFLOCK_OIDC_CLIENT_ID"</code>" (and "<code class="font-mono">"MAGFLOCK_OIDC_CLIENT_SECRET"</code>" for a confidential client), register the redirect URI "<code class="font-mono">"<public URL>/auth/oidc/callback"</code>" at the provider, and restart MagFlock."
                </p>
            </div>
        }
        .into_any(),
        Some(p) => {
            let client = if p.confidential {
                "Confidential (a client secret is set; it is never shown)"
            } else {
                "Public (no secret; PKCE)"
            };
            view! {
                <dl class="grid max-w-3xl gap-x-6 gap-y-3 text-sm sm:grid-cols-[12rem_1fr]" data-testid="builtin-provider">
                    <dt class="text-slate-500">"Button"</dt><dd>{format!("Sign in with {}", p.name)}</dd>
                    <dt class="text-slate-500">"Issuer"</dt><dd class="break-all font-mono text-xs">{p.issuer}</dd>
                    <dt class="text-slate-500">"Client id"</dt><dd class="break-all font-mono text-xs">{p.client_id}</dd>
                    <dt class="text-slate-500">"Redirect URI"</dt><dd class="break-all font-mono text-xs">{p.redirect_uri}</dd>
                    <dt class="text-slate-500">"Client type"</dt><dd>{client}</dd>
                    <dt class="text-slate-500">"Role of new users"</dt><dd>{p.default_role.label()}</dd>
                </dl>
            }
            .into_any()
        }
    };
    view! { <Card title="OpenID Connect (server configuration)">{body}</Card> }
}

#[component]
fn ValidBadge(valid: bool) -> impl IntoView {
    let (colour, text) = if valid {
        (
            "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200",
            "Valid",
        )
    } else {
        (
            "bg-red-100 text-red-800 dark:bg-red-900/60 dark:text-red-200",
            "Invalid",
        )
    };
    view! { <span class=format!("inline-flex rounded-full px-2 py-0.5 text-xs font-medium {colour}")>{text}</span> }
}

#[component]
fn Contributed(providers: Vec<SignInProvider>) -> impl IntoView {
    let dash = || "—".to_string();
    let body = if providers.is_empty() {
        view! { <p class=MUTED data-testid="no-extension-providers">"No running extension contributes a sign-in provider."</p> }.into_any()
    } else {
        view! {
            <DataTable testid="extension-providers" columns=vec!["Extension", "Provider", "Protocol", "Issuer", "Client id", "Configuration", "Status"]>
                {providers.into_iter().map(|p| view! {
                    <tr data-testid="provider-row" data-id=p.id.clone() data-valid=p.valid.to_string()>
                        <td class="py-3 pr-3 font-mono text-xs">{p.extension}</td>
                        <td class="py-3 pr-3">
                            <div class="font-medium">{p.title.clone().unwrap_or_else(|| p.id.clone())}</div>
                            <div class="font-mono text-xs text-slate-500">{p.id.clone()}</div>
                        </td>
                        <td class="py-3 pr-3 uppercase">{p.protocol.unwrap_or_else(dash)}</td>
                        <td class="py-3 pr-3 break-words font-mono text-xs">{p.issuer.unwrap_or_else(dash)}</td>
                        <td class="py-3 pr-3 break-words font-mono text-xs">{p.client_id.unwrap_or_else(dash)}</td>
                        <td class="py-3 pr-3"><ValidBadge valid=p.valid/></td>
                        <td class="py-3 pr-3 text-xs">{p.status}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
        }
        .into_any()
    };
    view! {
        <Card title="Providers from extensions">
            <div class="space-y-4">
                <p class=MUTED>"Extensions holding auth.register_provider may contribute providers. Listing them here checks each configuration; an invalid one is never used. Secrets in a configuration are never shown."</p>
                {body}
            </div>
        </Card>
    }
}
