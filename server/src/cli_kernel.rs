//! `magflock extension …` and `magflock trust …`: the lifecycle and the trust
//! store without a browser, for automation and recovery on the server itself
//! (the `mag` CLI does the same over the admin API).
//!
//! Guarantees: each command starts the kernel exactly as the server does
//! (so interrupted operations are recovered first), runs one lifecycle
//! operation to its end, and is audited with the local command line as
//! actor. Errors are one line naming the extension, step or file; exit 1.

use clap::Subcommand;
use magflock_kernel::audit::Actor;
use magflock_kernel::lifecycle_store::RequestStatus;
use magflock_lifecycle::{Decision, Offered, UpgradeSubmitted};
use magflock_package::{SignatureLevel, TrustedKey};
use magflock_store::{Store, TrustedKeyRow};
use magflock_types::{ActorKind, Outcome};
use std::path::PathBuf;
use std::sync::Arc;

use crate::kernel_host::KernelHost;
use crate::serve::open_store;
use crate::trust::ALLOW_UNSIGNED;
use crate::{Config, StartError};

#[derive(Subcommand, Debug)]
pub enum ExtensionCommand {
    /// List installed extensions with their version and state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Submit a package for installation (it waits for approval unless --approve).
    Install {
        package: PathBuf,
        /// Approve at once, granting everything requested.
        #[arg(long)]
        approve: bool,
        /// Enable once installed.
        #[arg(long)]
        enable: bool,
    },
    /// Install from the catalogs, with the dependencies it needs (one request).
    Get {
        /// The extension id (publisher/name).
        extension: String,
        /// A version requirement, e.g. "^1.2" (default: the newest that fits).
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        approve: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Search the catalogs (newest version of each extension).
    Search {
        /// Words to find in the id, name or description.
        text: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        capability: Option<String>,
    },
    /// Add an HTTP catalog (it must be signed by a trusted key).
    AddSource {
        url: String,
    },
    /// Remove an HTTP catalog.
    RemoveSource {
        url: String,
    },
    /// Offer a new version; new capabilities wait for approval unless --approve.
    Upgrade {
        package: PathBuf,
        #[arg(long)]
        approve: bool,
    },
    /// List capability requests waiting for a decision.
    Requests,
    /// Approve a request: everything requested, or only the capabilities named.
    Approve {
        request: String,
        /// Comma-separated capabilities to grant (default: all requested).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request.
    Deny {
        request: String,
        #[arg(long)]
        comment: Option<String>,
    },
    Enable {
        extension: String,
    },
    Disable {
        extension: String,
    },
    Uninstall {
        extension: String,
    },
    /// Go back to the version the last upgrade replaced.
    Rollback {
        extension: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// List trusted keys.
    List,
    /// Trust a publisher's public key file (made by `mag keys:generate`).
    Add {
        key_file: PathBuf,
        /// Trust it as the first-party key instead of a verified publisher.
        #[arg(long)]
        first_party: bool,
    },
    /// Stop trusting a key.
    Remove { key_id: String },
    /// Development only: accept unsigned packages (on) or refuse them (off).
    AllowUnsigned {
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
}

fn local_admin() -> Actor {
    Actor {
        kind: ActorKind::System,
        id: None,
        label: "command line (local administrator)".into(),
    }
}

fn refused(e: impl std::fmt::Display) -> StartError {
    StartError::Failed(e.to_string())
}

pub async fn run_extension(config: &Config, command: ExtensionCommand) -> Result<(), StartError> {
    let store = open_store(&config.database_url).await?;
    let kernel = KernelHost::start(store, config).await?;
    let lifecycle = kernel.lifecycle.clone();
    let by = local_admin();
    match command {
        ExtensionCommand::List { json } => {
            let views = lifecycle.extensions().await.map_err(refused)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&views).unwrap_or_default()
                );
            } else if views.is_empty() {
                println!("No extensions are installed.");
            } else {
                for v in views {
                    println!(
                        "{}  {}  {:?}  granted: {}",
                        v.id,
                        v.version,
                        v.state,
                        v.granted.join(", ")
                    );
                }
            }
        }
        ExtensionCommand::Install {
            package,
            approve,
            enable,
        } => {
            let bytes = std::fs::read(&package)
                .map_err(|e| StartError::Failed(format!("{}: {e}", package.display())))?;
            let offered = vec![Offered {
                bytes,
                required_by: Vec::new(),
            }];
            let request = lifecycle
                .request_install(offered, enable, &by)
                .await
                .map_err(refused)?;
            println!(
                "Request {} for {} is waiting for approval.",
                request.id, request.extension
            );
            if approve {
                decide(&lifecycle, &request.id, Vec::new(), None, &by).await?;
            }
        }
        ExtensionCommand::Upgrade { package, approve } => {
            let bytes = std::fs::read(&package)
                .map_err(|e| StartError::Failed(format!("{}: {e}", package.display())))?;
            match lifecycle
                .request_upgrade(&bytes, &by)
                .await
                .map_err(refused)?
            {
                UpgradeSubmitted::Done => println!("Upgraded (no new capabilities)."),
                UpgradeSubmitted::Waiting(request) => {
                    println!(
                        "Request {} waits for approval: the new version asks for new capabilities.",
                        request.id
                    );
                    if approve {
                        decide(&lifecycle, &request.id, Vec::new(), None, &by).await?;
                    }
                }
            }
        }
        ExtensionCommand::Get {
            extension,
            version,
            approve,
            enable,
        } => {
            let requirement = version
                .map(|v| {
                    magflock_kernel::semver::VersionReq::parse(&v)
                        .map_err(|e| StartError::Failed(format!("--version '{v}': {e}")))
                })
                .transpose()?;
            let request = lifecycle
                .request_install_from_catalog(&extension, requirement.as_ref(), enable, &by)
                .await
                .map_err(refused)?;
            let plan: magflock_lifecycle::Plan =
                serde_json::from_str(&request.plan).map_err(refused)?;
            println!("Request {} waits for approval. The plan:", request.id);
            for item in &plan.items {
                let capabilities: Vec<&str> =
                    item.capabilities.iter().map(|c| c.name.as_str()).collect();
                println!(
                    "  {} {} ({}) requests: {}",
                    item.extension,
                    item.version,
                    item.signature_level,
                    capabilities.join(", ")
                );
            }
            if approve {
                decide(&lifecycle, &request.id, Vec::new(), None, &by).await?;
            }
        }
        ExtensionCommand::Search {
            text,
            category,
            capability,
        } => {
            let view = lifecycle.catalog().await.map_err(refused)?;
            for problem in &view.problems {
                eprintln!("warning: {problem}");
            }
            let query = magflock_package::Query {
                text,
                category,
                capability,
                ..Default::default()
            };
            for listing in view.search(&query) {
                let e = &listing.entry;
                println!(
                    "{} {}  {}  [{}]  {}{}",
                    e.id,
                    e.version,
                    listing
                        .signature_level
                        .as_deref()
                        .unwrap_or("untrusted key"),
                    e.categories.join(", "),
                    e.description,
                    listing
                        .installed
                        .as_ref()
                        .map(|v| format!("  (installed: {v})"))
                        .unwrap_or_default()
                );
            }
        }
        ExtensionCommand::AddSource { url } => {
            let entries = lifecycle
                .add_catalog_source(&url, &by)
                .await
                .map_err(refused)?;
            println!("Added {url} ({entries} packages listed).");
        }
        ExtensionCommand::RemoveSource { url } => {
            lifecycle
                .remove_catalog_source(&url, &by)
                .await
                .map_err(refused)?;
            println!("Removed {url}.");
        }
        ExtensionCommand::Requests => {
            for r in lifecycle
                .requests(Some(RequestStatus::Pending))
                .await
                .map_err(refused)?
            {
                println!("{}  {}  {}  {}", r.id, r.kind, r.extension, r.plan);
            }
        }
        ExtensionCommand::Approve {
            request,
            only,
            comment,
        } => decide(&lifecycle, &request, only, comment, &by).await?,
        ExtensionCommand::Deny { request, comment } => {
            lifecycle
                .decide(&request, Decision::Deny { comment }, &by)
                .await
                .map_err(refused)?;
            println!("Denied.");
        }
        ExtensionCommand::Enable { extension } => {
            lifecycle.enable(&extension, &by).await.map_err(refused)?;
            println!("{extension} is enabled.");
        }
        ExtensionCommand::Disable { extension } => {
            lifecycle.disable(&extension, &by).await.map_err(refused)?;
            println!("{extension} is disabled.");
        }
        ExtensionCommand::Uninstall { extension } => {
            match lifecycle
                .uninstall(&extension, &by)
                .await
                .map_err(refused)?
            {
                None => println!("{extension} is uninstalled."),
                Some(kept) => println!("{extension} is uninstalled; its data is kept in {kept}."),
            }
        }
        ExtensionCommand::Rollback { extension } => {
            lifecycle.rollback(&extension, &by).await.map_err(refused)?;
            println!("{extension} is back on its previous version.");
        }
    }
    Ok(())
}

async fn decide(
    lifecycle: &Arc<magflock_lifecycle::Lifecycle>,
    request: &str,
    only: Vec<String>,
    comment: Option<String>,
    by: &Actor,
) -> Result<(), StartError> {
    let grants = if only.is_empty() {
        None
    } else {
        let pending = lifecycle
            .requests(Some(RequestStatus::Pending))
            .await
            .map_err(refused)?;
        let found = pending
            .iter()
            .find(|r| r.id == request)
            .ok_or_else(|| StartError::Failed(format!("request {request} is not pending")))?;
        let plan: magflock_lifecycle::Plan = serde_json::from_str(&found.plan).map_err(refused)?;
        let grants = plan.grants_only(&only).map_err(refused)?;
        Some(grants)
    };
    let decided = lifecycle
        .decide(request, Decision::Approve { grants, comment }, by)
        .await
        .map_err(refused)?;
    println!(
        "Approved; request {} is {}.",
        decided.id,
        decided.status.as_str()
    );
    Ok(())
}

pub async fn run_trust(config: &Config, command: TrustCommand) -> Result<(), StartError> {
    let store = open_store(&config.database_url).await?;
    let by = local_admin();
    match command {
        TrustCommand::List => {
            for key in store.trusted_keys().await? {
                println!("{}  {}  {}", key.key_id, key.level, key.publisher);
            }
        }
        TrustCommand::Add {
            key_file,
            first_party,
        } => {
            let level = if first_party {
                SignatureLevel::FirstParty
            } else {
                SignatureLevel::VerifiedPublisher
            };
            let key = TrustedKey::read(&key_file, level).map_err(refused)?;
            let level_name = level.code();
            store
                .trusted_key_add(&TrustedKeyRow {
                    key_id: key.key_id(),
                    publisher: key.publisher.clone(),
                    public_key: key.public_hex(),
                    level: level_name.into(),
                    added_by: None,
                    added_at: magflock_kernel::bus::now_millis(),
                })
                .await
                .map_err(refused)?;
            store
                .audit_append(by.entry(
                    "trust.key_added",
                    Some(&key.key_id()),
                    Outcome::Success,
                    serde_json::json!({ "publisher": key.publisher, "level": level_name }),
                ))
                .await?;
            println!(
                "Trusted {} ({}) as {}.",
                key.key_id(),
                key.publisher,
                level.as_str()
            );
        }
        TrustCommand::Remove { key_id } => {
            if !store.trusted_key_remove(&key_id).await? {
                return Err(StartError::Failed(format!(
                    "no trusted key has the id {key_id}"
                )));
            }
            store
                .audit_append(by.entry(
                    "trust.key_removed",
                    Some(&key_id),
                    Outcome::Success,
                    serde_json::json!({}),
                ))
                .await?;
            println!("Key {key_id} is no longer trusted.");
        }
        TrustCommand::AllowUnsigned { setting } => {
            let value = if setting == "on" { "true" } else { "false" };
            store.setting_set(ALLOW_UNSIGNED, value, None).await?;
            store
                .audit_append(by.entry(
                    "settings.updated",
                    Some(ALLOW_UNSIGNED),
                    Outcome::Success,
                    serde_json::json!({ ALLOW_UNSIGNED: value }),
                ))
                .await?;
            if value == "true" {
                println!("DEVELOPMENT SETTING ON: unsigned packages will be accepted.");
            } else {
                println!("Unsigned packages are refused.");
            }
        }
    }
    Ok(())
}
