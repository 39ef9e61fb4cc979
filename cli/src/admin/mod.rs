//! The admin commands of `mag`: sign-in (`login`, `logout`) and the work an
//! admin does in MagUI, over the server's admin API with a personal access
//! token: extensions, approvals, capabilities, audit, events and health.
//!
//! Guarantees: each command is one clap subcommand named as in the issue
//! (`extension:list`, `approvals:decide`, ...); each goes through
//! [`client::Client`] (the one place HTTP answers become errors) and prints
//! through [`output`] (the one place formats are chosen).

pub mod client;
pub mod commands;
pub mod output;

use crate::error::MagError;
use clap::{Args, Subcommand, ValueEnum};
use output::Shown;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Decision {
    Approve,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Csv,
    Json,
}

/// How the approval step of an install or upgrade is answered.
#[derive(Args, Clone, Debug, Default)]
pub struct ApprovalArgs {
    /// Approve only these capabilities (comma-separated), without asking.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "CAP,...",
        conflicts_with = "approve_all"
    )]
    pub approve: Vec<String>,
    /// Approve every capability the request asks for, without asking.
    #[arg(long)]
    pub approve_all: bool,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Sign in to a server with a personal access token (read from stdin or MAG_TOKEN)
    Login {
        /// The server's address, e.g. https://magflock.example.com
        #[arg(long)]
        server: String,
    },
    /// Forget the stored login (the token stays valid until revoked in MagUI)
    Logout,
    /// List the installed extensions
    #[command(name = "extension:list")]
    List,
    /// Search the catalogs
    #[command(name = "extension:search")]
    Search {
        /// Words that must each appear in the id, name or description.
        words: Vec<String>,
        #[arg(long)]
        category: Option<String>,
        /// Only extensions asking for this capability.
        #[arg(long)]
        capability: Option<String>,
        /// ce or pro.
        #[arg(long)]
        edition: Option<String>,
    },
    /// Show one installed extension (state, grants, statistics)
    #[command(name = "extension:info")]
    Info { id: String },
    /// Install from the catalogs: queue the request, then approve it
    #[command(name = "extension:install")]
    Install {
        /// publisher/name
        id: String,
        /// A version requirement, e.g. =1.0.0 or ^1 (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// Install without enabling.
        #[arg(long)]
        no_enable: bool,
        #[command(flatten)]
        approval: ApprovalArgs,
    },
    /// Enable an installed extension
    #[command(name = "extension:enable")]
    Enable { id: String },
    /// Disable an extension (its data stays)
    #[command(name = "extension:disable")]
    Disable { id: String },
    /// Upgrade to the newest catalog version (approval when it asks for more)
    #[command(name = "extension:upgrade")]
    Upgrade {
        id: String,
        /// A version requirement, e.g. ^2 (default: the newest).
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        approval: ApprovalArgs,
    },
    /// Go back to the version kept from before the last upgrade
    #[command(name = "extension:rollback")]
    Rollback { id: String },
    /// Uninstall a disabled extension (its data is kept)
    #[command(name = "extension:uninstall")]
    Uninstall { id: String },
    /// List capability requests
    #[command(name = "approvals:list")]
    ApprovalsList {
        /// pending, approved, denied, failed, completed or all.
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Approve or deny a capability request
    #[command(name = "approvals:decide")]
    ApprovalsDecide {
        /// The request id (from approvals:list).
        id: String,
        decision: Decision,
        /// Approve only these capabilities (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "CAP,...")]
        only: Vec<String>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Take a granted capability back from a running extension
    #[command(name = "capability:revoke")]
    CapabilityRevoke { id: String, capability: String },
    /// The newest audit entries
    #[command(name = "audit:tail")]
    AuditTail {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Entries whose actor contains this text.
        #[arg(long)]
        actor: Option<String>,
        /// Entries whose action starts with this text (e.g. extension.).
        #[arg(long)]
        action: Option<String>,
    },
    /// Export the whole audit log, oldest first
    #[command(name = "audit:export")]
    AuditExport {
        #[arg(long, value_enum)]
        format: AuditFormat,
        /// Write here instead of stdout.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Check the audit log's hash chain (exit 1 when broken)
    #[command(name = "audit:verify")]
    AuditVerify,
    /// The newest events of the bus (with --follow, then each new one until Ctrl-C)
    #[command(name = "events:tail")]
    EventsTail {
        /// An event type pattern, e.g. extension.*
        #[arg(long = "type")]
        pattern: Option<String>,
        /// How many of the newest to show (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Keep printing events as they are published (JSON: one per line;
        /// YAML: one document each; table: a row each) until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Replay the bus's events from a sequence number on
    #[command(name = "events:replay")]
    EventsReplay {
        #[arg(long)]
        from: u64,
        #[arg(long = "type")]
        pattern: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// The server's health: control plane, MagDS and each extension
    Health,
    /// The commands running extensions add to mag (`mag <extension>:<command>`)
    #[command(name = "commands")]
    Commands,
}

/// Refuses a wrong command line before any credentials or network are
/// needed, so a usage error is always exit status 2.
fn check(command: &AdminCommand) -> Result<(), MagError> {
    use AdminCommand as C;
    match command {
        C::Info { id }
        | C::Install { id, .. }
        | C::Enable { id }
        | C::Disable { id }
        | C::Upgrade { id, .. }
        | C::Rollback { id }
        | C::Uninstall { id }
        | C::CapabilityRevoke { id, .. } => commands::id_segments(id).map(|_| ()),
        C::ApprovalsDecide {
            decision: Decision::Deny,
            only,
            ..
        } if !only.is_empty() => Err(MagError::usage("--only goes with approve, not deny")
            .with_hint("drop --only, or decide `approve --only CAPS`")),
        C::EventsTail { limit, .. } if !(1..=1000).contains(limit) => Err(MagError::usage(
            format!("--limit {limit} is out of range"),
        )
        .with_hint("events:tail shows 1 to 1000 events; use events:replay --from SEQ for more")),
        _ => Ok(()),
    }
}

/// Runs one admin command.
/// `data` written in `format` by the running extension that adds it.
pub fn render_with_extension(format: &str, data: &serde_json::Value) -> Result<String, MagError> {
    let client = client::Client::new(client::resolve()?)?;
    let command = std::env::args()
        .skip(1)
        .find(|a| a.contains(':') || matches!(a.as_str(), "health" | "commands"))
        .unwrap_or_default();
    let written = client.post(
        &["formats", format],
        serde_json::json!({"command": command, "data": data}),
    )?;
    Ok(written["output"].as_str().unwrap_or_default().to_string())
}

/// `mag <extension>:<command> [args...]`, with the stored login.
pub fn run_extension_command(words: &[String]) -> Result<Shown, MagError> {
    let client = client::Client::new(client::resolve()?)?;
    commands::run_extension_command(&client, words)
}

/// Whether `command` prints as it goes (`events:tail --follow`) rather
/// than once; then run it with [`follow`].
pub fn streams(command: &AdminCommand) -> bool {
    matches!(command, AdminCommand::EventsTail { follow: true, .. })
}

/// Runs a command that prints as it goes ([`streams`]), writing each batch
/// in `format` to stdout at once; returns when interrupted, when stdout is
/// closed (`| head`), or with the error that stopped it.
pub fn follow(command: AdminCommand, format: &output::Format) -> Result<(), MagError> {
    check(&command)?;
    let AdminCommand::EventsTail { pattern, limit, .. } = command else {
        return Err(MagError::usage(
            "only events:tail --follow prints as it goes",
        ));
    };
    let client = client::Client::new(client::resolve()?)?;
    let mut write = |events: &[serde_json::Value], first: bool| {
        let text = match format {
            output::Format::Extension(name) if !events.is_empty() => {
                let mut text = render_with_extension(name, &serde_json::json!({"events": events}))?;
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text
            }
            _ => commands::follow_text(events, first, format),
        };
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ControlFlow::Break(())),
            Err(e) => Err(MagError::failure(format!("cannot write the events: {e}"))),
            Ok(()) => Ok(ControlFlow::Continue(())),
        }
    };
    commands::events_follow(&client, pattern.as_deref(), limit, &mut write)
}

pub fn run(command: AdminCommand) -> Result<Shown, MagError> {
    use AdminCommand as C;
    match command {
        C::Login { server } => return commands::login(&server),
        C::Logout => return commands::logout(),
        _ => {}
    }
    check(&command)?;
    let client = client::Client::new(client::resolve()?)?;
    let client = &client;
    match command {
        C::Login { .. } | C::Logout => unreachable!("handled above"),
        C::List => commands::list(client),
        C::Search {
            words,
            category,
            capability,
            edition,
        } => commands::search(
            client,
            &words,
            category.as_deref(),
            capability.as_deref(),
            edition.as_deref(),
        ),
        C::Info { id } => commands::info(client, &id),
        C::Install {
            id,
            version,
            no_enable,
            approval,
        } => commands::install(client, &id, version.as_deref(), !no_enable, &approval),
        C::Enable { id } => commands::act(client, &id, "enable"),
        C::Disable { id } => commands::act(client, &id, "disable"),
        C::Rollback { id } => commands::act(client, &id, "rollback"),
        C::Upgrade {
            id,
            version,
            approval,
        } => commands::upgrade(client, &id, version.as_deref(), &approval),
        C::Uninstall { id } => commands::uninstall(client, &id),
        C::ApprovalsList { status } => commands::approvals_list(client, &status),
        C::ApprovalsDecide {
            id,
            decision,
            only,
            comment,
        } => commands::decide(client, &id, decision, &only, comment.as_deref()),
        C::CapabilityRevoke { id, capability } => commands::revoke(client, &id, &capability),
        C::AuditTail {
            limit,
            actor,
            action,
        } => commands::audit_tail(client, limit, actor.as_deref(), action.as_deref()),
        C::AuditExport { format, file } => commands::audit_export(client, format, file.as_deref()),
        C::AuditVerify => commands::audit_verify(client),
        C::EventsTail { pattern, limit, .. } => {
            commands::events_tail(client, pattern.as_deref(), limit)
        }
        C::EventsReplay {
            from,
            pattern,
            limit,
        } => commands::events_replay(client, from, pattern.as_deref(), limit),
        C::Health => commands::health(client),
        C::Commands => commands::extension_commands(client),
    }
}
