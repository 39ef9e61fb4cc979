//! `magflock`: serves MagUI and the control plane, or runs an admin command.

use clap::Parser;
use magflock_server::cli::{AdminCommand, Cli, Command, create_account, read_password};
use magflock_server::serve::open_store;
use magflock_server::{Config, StartError, start};

const LEPTOS_TOML: &str = "Leptos.toml";

#[tokio::main]
async fn main() {
    let filter = std::env::var("MAGFLOCK_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn,tower_sessions=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(err) = run(cli).await {
        eprintln!("magflock: error: {err}");
        std::process::exit(err.exit_code());
    }
}

async fn run(cli: Cli) -> Result<(), StartError> {
    let config = Config::from_env(LEPTOS_TOML)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    display_name,
                    role,
                },
        } => {
            let store = open_store(&config.database_url).await?;
            let password = read_password()?;
            let user = create_account(
                store.as_ref(),
                &email,
                &display_name,
                role,
                &password,
                "command line",
            )
            .await?;
            println!("Created {} ({}).", user.email, user.role.label());
            Ok(())
        }
        Command::Extension { command } => {
            magflock_server::cli_kernel::run_extension(&config, command).await
        }
        Command::Trust { command } => {
            magflock_server::cli_kernel::run_trust(&config, command).await
        }
    }
}

async fn serve(config: Config) -> Result<(), StartError> {
    let engine = magflock_store::Engine::of_url(&config.database_url)?.name();
    let running = start(config).await?;
    let url = format!("http://{}", running.addr);
    println!("MagFlock is running at {url} (control-plane store: {engine}).");
    if running.setup_needed {
        println!("First run: open {url} in your browser and create the owner account.");
    } else {
        println!("Open {url} in your browser and sign in.");
    }
    println!("Press Ctrl-C to stop.");
    running.run_until(shutdown_signal()).await?;
    println!("MagFlock stopped.");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
