//! MagAuth: signing in to MagUI with an OpenID Connect provider.
//!
//! `GET /auth/oidc/start` begins the authorization code flow with PKCE;
//! `GET /auth/oidc/callback` finishes it. The `openidconnect` crate runs the
//! protocol: discovery, the code exchange and the ID token's checks (signature
//! against the provider's published keys, issuer, audience, expiry, nonce).
//!
//! Guarantees: the state, nonce and PKCE verifier stay in the server-side
//! session (the browser holds only the session cookie) and are used once; a
//! callback whose state does not match, or that arrives with no sign-in in
//! progress, is refused before any request to the provider; a user is found by
//! the identity (issuer, subject) already linked, else by a *verified* email
//! of an existing account (which is then linked), else created with the
//! configured default role and an unusable password; with no linked identity
//! and an email the provider does not say is verified, the sign-in is
//! refused (nothing linked or created: anyone can claim an email, and an
//! account's email is its identity); a disabled account is refused (and
//! never linked); an ID token that fails a check (signature, audience, ...)
//! is refused before any account is looked at; the session a successful
//! sign-in starts is exactly the one a
//! password sign-in starts. Every outcome is audited as `auth.login` with
//! `method: "oidc"` (refusals with their reason), and a success publishes
//! `auth.user.login` on the kernel bus.

use crate::config::OidcConfig;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use magflock_app::server::audit::{Actor, record_in};
use magflock_app::server::auth::begin_session;
use magflock_app::server::events;
use magflock_app::server::{AppContext, ClientIp};
use magflock_store::now_millis;
use magflock_types::{NewUser, Outcome, User, normalize_email};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_sessions::Session;

/// The session key of a sign-in in progress.
const PENDING: &str = "oidc_pending";
/// How long a sign-in at the provider may take.
const PENDING_MAX_MS: i64 = 10 * 60 * 1000;
/// How long discovered provider metadata (with its keys) is reused.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// The path of the callback (the redirect URI registered at the provider).
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// What the session keeps between start and callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    pkce_verifier: String,
    next: String,
    started_at: i64,
}

#[derive(Deserialize)]
pub struct StartParams {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The configured provider and what the flow needs.
pub struct Oidc {
    config: OidcConfig,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>,
    ctx: AppContext,
}

/// A refusal: the audit reason and the code the sign-in page explains.
struct Refusal {
    reason: String,
    code: &'static str,
    claimed: Option<String>,
}

fn refuse(reason: impl Into<String>) -> Refusal {
    Refusal {
        reason: reason.into(),
        code: "failed",
        claimed: None,
    }
}

impl Oidc {
    /// `public_base` is the origin people use (`http://host:port`); the
    /// redirect URI is `<public_base>/auth/oidc/callback`.
    pub fn new(config: OidcConfig, public_base: &str, ctx: AppContext) -> Result<Oidc, String> {
        let redirect =
            RedirectUrl::new(format!("{public_base}{CALLBACK_PATH}")).map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            // Following redirects would open the client to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Oidc {
            config,
            redirect,
            http,
            metadata: tokio::sync::Mutex::new(None),
            ctx,
        })
    }

    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/auth/oidc/start", get(start))
            .route(CALLBACK_PATH, get(callback))
            .with_state(self)
    }

    /// The provider's metadata and keys (discovered, reused for a few minutes).
    async fn metadata(&self) -> Result<CoreProviderMetadata, String> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| format!("discovery failed: {e}"))?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    async fn audit(
        &self,
        actor: &Actor,
        target: &str,
        outcome: Outcome,
        detail: serde_json::Value,
    ) {
        if let Err(e) = record_in(
            &self.ctx,
            actor,
            "auth.login",
            Some(target),
            outcome,
            detail,
        )
        .await
        {
            tracing::error!(error = %e, "could not audit an OpenID Connect sign-in");
        }
    }

    /// Finishes the flow: the verified, active user to sign in and how they
    /// were found.
    async fn finish(
        &self,
        pending: Option<Pending>,
        params: CallbackParams,
    ) -> Result<(User, &'static str, String, Pending), Refusal> {
        let pending = pending.ok_or_else(|| refuse("no sign-in in progress in this session"))?;
        if let Some(error) = params.error {
            return Err(refuse(format!("the provider returned an error: {error}")));
        }
        if params.state.as_deref() != Some(pending.state.as_str()) {
            return Err(refuse("state mismatch"));
        }
        if now_millis() - pending.started_at > PENDING_MAX_MS {
            return Err(refuse("the sign-in took too long"));
        }
        let code = params.code.ok_or_else(|| refuse("no authorization code"))?;
        let metadata = self.metadata().await.map_err(|e| Refusal {
            reason: e,
            code: "unavailable",
            claimed: None,
        })?;
        let client = self.client(metadata);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| refuse(format!("code exchange: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| refuse(format!("code exchange failed: {e}")))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| refuse("the provider returned no ID token"))?;
        let verifier = client.id_token_verifier();
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| refuse(format!("ID token rejected: {e}")))?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| refuse(format!("access token hash: {e}")))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| refuse(format!("access token hash: {e}")))?;
            let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
                .map_err(|e| refuse(format!("access token hash: {e}")))?;
            if actual != *expected {
                return Err(refuse("access token hash mismatch"));
            }
        }
        let issuer = claims.issuer().to_string();
        let subject = claims.subject().to_string();
        let email = claims
            .email()
            .and_then(|e| normalize_email(e.as_str()).ok());
        let email_verified = claims.email_verified() == Some(true);
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string());
        let claimed = email
            .clone()
            .unwrap_or_else(|| format!("{issuer}#{subject}"));
        let with_claim = |mut r: Refusal| {
            r.claimed = Some(claimed.clone());
            r
        };
        let store = &self.ctx.store;
        let internal = |e: magflock_store::StoreError| with_claim(refuse(format!("store: {e}")));

        let (user, linked_by) = if let Some(user_id) = store
            .identity_user(&issuer, &subject)
            .await
            .map_err(internal)?
        {
            let user = store
                .user_by_id(&user_id)
                .await
                .map_err(internal)?
                .ok_or_else(|| with_claim(refuse("linked account no longer exists")))?;
            (user, "subject")
        } else {
            let (Some(email), true) = (email.clone(), email_verified) else {
                return Err(with_claim(refuse(
                    "no linked account and no verified email from the provider",
                )));
            };
            match store
                .user_with_hash_by_email(&email)
                .await
                .map_err(internal)?
            {
                Some((user, _)) => {
                    if user.is_active() {
                        store
                            .identity_link(&issuer, &subject, &user.id, Some(&email))
                            .await
                            .map_err(internal)?;
                    }
                    (user, "email")
                }
                None => {
                    let display_name: String = name
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string())
                        .trim()
                        .chars()
                        .take(80)
                        .collect();
                    let user = store
                        .create_user(NewUser {
                            email: email.clone(),
                            display_name,
                            role: self.config.default_role,
                            password_hash: unusable_password_hash(),
                        })
                        .await
                        .map_err(internal)?;
                    store
                        .identity_link(&issuer, &subject, &user.id, Some(&email))
                        .await
                        .map_err(internal)?;
                    (user, "created")
                }
            }
        };
        if !user.is_active() {
            return Err(Refusal {
                reason: "account disabled".into(),
                code: "disabled",
                claimed: Some(user.email.clone()),
            });
        }
        Ok((user, linked_by, issuer, pending))
    }
}

/// A password hash no password matches: not a PHC string, so verification
/// fails closed (see `passwords::verify`), plus randomness so no two are equal.
fn unusable_password_hash() -> String {
    format!("!oidc-only!{}", CsrfToken::new_random().secret())
}

fn to_login(code: &str) -> Response {
    Redirect::to(&format!("/login?sso={code}")).into_response()
}

async fn start(
    State(oidc): State<Arc<Oidc>>,
    session: Session,
    ip: Option<Extension<ClientIp>>,
    Query(params): Query<StartParams>,
) -> Response {
    let ip = ip.and_then(|Extension(ClientIp(ip))| ip);
    let metadata = match oidc.metadata().await {
        Ok(metadata) => metadata,
        Err(reason) => {
            tracing::warn!(%reason, "OpenID Connect provider unavailable");
            let actor = Actor::Anonymous {
                claimed: "oidc".into(),
                ip,
            };
            oidc.audit(
                &actor,
                &oidc.config.issuer,
                Outcome::Failure,
                json!({"method": "oidc", "reason": reason}),
            )
            .await;
            return to_login("unavailable");
        }
    };
    let client = oidc.client(metadata);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = Pending {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        next: magflock_app::app::safe_next(params.next),
        started_at: now_millis(),
    };
    if let Err(e) = session.insert(PENDING, pending).await {
        tracing::error!(error = %e, "could not keep the OpenID Connect state in the session");
        return to_login("unavailable");
    }
    Redirect::to(url.as_str()).into_response()
}

async fn callback(
    State(oidc): State<Arc<Oidc>>,
    session: Session,
    ip: Option<Extension<ClientIp>>,
    Query(params): Query<CallbackParams>,
) -> Response {
    let ip = ip.and_then(|Extension(ClientIp(ip))| ip);
    // Used once, whatever the outcome.
    let pending = session.remove::<Pending>(PENDING).await.ok().flatten();
    match oidc.finish(pending, params).await {
        Err(refusal) => {
            let claimed = refusal.claimed.unwrap_or_else(|| "oidc".into());
            let actor = Actor::Anonymous {
                claimed: claimed.clone(),
                ip,
            };
            oidc.audit(
                &actor,
                &claimed,
                Outcome::Denied,
                json!({"method": "oidc", "issuer": oidc.config.issuer, "reason": refusal.reason}),
            )
            .await;
            to_login(refusal.code)
        }
        Ok((user, linked_by, issuer, pending)) => {
            if let Err(e) = begin_session(&oidc.ctx, &session, &user).await {
                tracing::error!(error = %e, "could not start a session after OpenID Connect");
                return to_login("unavailable");
            }
            let actor = Actor::User {
                user: user.clone(),
                ip,
            };
            oidc.audit(
                &actor,
                &user.email,
                Outcome::Success,
                json!({"method": "oidc", "issuer": issuer, "linked_by": linked_by}),
            )
            .await;
            events::publish(
                &oidc.ctx,
                events::USER_LOGIN,
                Some(&user.id),
                json!({"email": user.email, "role": user.role.as_str(), "method": "oidc", "issuer": issuer}),
            )
            .await;
            Redirect::to(&pending.next).into_response()
        }
    }
}
