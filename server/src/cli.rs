//! The `magflock` command line: `serve` (the default), `admin create` (the
//! headless way to create accounts, for automation and recovery), and the
//! `extension` and `trust` commands ([`crate::cli_kernel`]).
//!
//! Guarantees: passwords are read from standard input or the environment, never
//! from arguments (which other users can see in the process list); the same
//! validation as the UI applies; every account created here is audited with the
//! system as actor.

use crate::StartError;
use clap::{Parser, Subcommand};
use magflock_app::server::auth::validate_new_account;
use magflock_app::server::passwords;
use magflock_store::{Store, StoreError};
use magflock_types::{ActorKind, NewAuditEntry, NewUser, Outcome, Role, User};

#[derive(Parser, Debug)]
#[command(
    name = "magflock",
    version,
    about = "MagFlock: extension kernel and admin control plane"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve MagUI and the control plane (the default).
    Serve,
    /// Manage admin accounts without the browser.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Install, approve, enable, disable, upgrade, roll back and uninstall
    /// extensions without the browser.
    Extension {
        #[command(subcommand)]
        command: crate::cli_kernel::ExtensionCommand,
    },
    /// The keys packages may be signed with, and the unsigned-package
    /// development setting.
    Trust {
        #[command(subcommand)]
        command: crate::cli_kernel::TrustCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an account. The first account is always the owner. The password is
    /// read from MAGFLOCK_ADMIN_PASSWORD or, if unset, from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long = "name")]
        display_name: String,
        #[arg(long, default_value = "owner")]
        role: Role,
    },
}

/// Creates an account (the first owner if none exists) and audits it.
pub async fn create_account(
    store: &dyn Store,
    email: &str,
    display_name: &str,
    role: Role,
    password: &str,
    via: &str,
) -> Result<User, StartError> {
    let (email, display_name) = validate_new_account(email, display_name, password)
        .map_err(|e| StartError::Refused(format!("{}: {e}", e.field().unwrap_or("input"))))?;
    let password_hash =
        passwords::hash(password).map_err(|e| StartError::Refused(e.to_string()))?;
    let new = NewUser {
        email,
        display_name,
        role,
        password_hash,
    };
    let user = if store.user_count().await? == 0 {
        store.create_first_owner(new).await?
    } else {
        store.create_user(new).await.map_err(|e| match e {
            StoreError::Conflict(m) => StartError::Refused(m),
            other => other.into(),
        })?
    };
    store
        .audit_append(NewAuditEntry {
            actor_kind: ActorKind::System,
            actor_id: None,
            actor_label: "magflock".into(),
            action: "user.created".into(),
            target: Some(user.email.clone()),
            outcome: Outcome::Success,
            detail: serde_json::json!({"role": user.role.as_str(), "via": via}).to_string(),
            ip: None,
        })
        .await?;
    Ok(user)
}

/// At start: if no account exists and `MAGFLOCK_ADMIN_EMAIL` is set, creates the
/// owner from `MAGFLOCK_ADMIN_EMAIL`, `MAGFLOCK_ADMIN_NAME` and `MAGFLOCK_ADMIN_PASSWORD`.
pub async fn create_account_from_env(store: &dyn Store) -> Result<(), StartError> {
    let Some(email) = std::env::var("MAGFLOCK_ADMIN_EMAIL")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        return Ok(());
    };
    if store.user_count().await? > 0 {
        return Ok(());
    }
    let name = std::env::var("MAGFLOCK_ADMIN_NAME").unwrap_or_else(|_| "Owner".into());
    let password = std::env::var("MAGFLOCK_ADMIN_PASSWORD").map_err(|_| {
        StartError::config(
            "MAGFLOCK_ADMIN_PASSWORD",
            "must be set when MAGFLOCK_ADMIN_EMAIL is",
        )
    })?;
    let user = create_account(store, &email, &name, Role::Owner, &password, "environment")
        .await
        .map_err(|e| match e {
            StartError::Refused(problem) => StartError::config("MAGFLOCK_ADMIN_*", problem),
            other => other,
        })?;
    tracing::info!(email = %user.email, "owner account created from the environment");
    Ok(())
}

/// Reads a password from `MAGFLOCK_ADMIN_PASSWORD`, else from standard input
/// (hidden when it is a terminal).
pub fn read_password() -> Result<String, StartError> {
    if let Ok(p) = std::env::var("MAGFLOCK_ADMIN_PASSWORD") {
        return Ok(p);
    }
    let line = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password("Password: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line
    };
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
