//! `mag`, the MagFlock command line: the extension author's and publisher's
//! commands (keys, packages, catalogs), and the admin's commands over a
//! server's admin API (`mag login`, then `extension:*`, `approvals:*`,
//! `capability:revoke`, `audit:*`, `events:*`, `health`).
//!
//! Guarantees: every author command either does all it says or changes
//! nothing (a package or signature is written to a temporary file and
//! renamed into place); admin commands print the API's data as a table,
//! JSON or YAML (`--output`), with the API's field names; a failure prints
//! one line `mag: <problem>` and, where there is one, `hint: <fix>` on
//! stderr; the exit status tells scripts what happened:
//!
//! | status | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | any other failure (a file, a broken audit chain, a denied request) |
//! | 2 | wrong command line |
//! | 3 | not signed in, or the token was refused (HTTP 401) |
//! | 4 | forbidden: the token's user may not do this (403) |
//! | 5 | not found (404) |
//! | 6 | refused as asked (400, 409) |
//! | 7 | server unreachable, or it failed (5xx) or is unhealthy |
//! | 10 | a request was queued and waits for approval |

mod admin;
mod commands;
mod error;

use admin::output::Format;
use clap::{CommandFactory, Parser, Subcommand};
use error::MagError;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit status:
  0   done
  1   any other failure (a file, a broken audit chain, a denied request)
  2   wrong command line
  3   not signed in, or the token was refused (HTTP 401): run `mag login --server URL`
  4   forbidden: the token's user may not do this (403)
  5   not found (404)
  6   refused as asked (400, 409)
  7   server unreachable, or it failed (5xx) or is unhealthy
  10  a request was queued and waits for approval (`mag approvals:decide ID approve`)

Admin commands use the login stored by `mag login` ($MAG_CONFIG, else
~/.config/magflock/mag.json); MAG_SERVER and MAG_TOKEN override it.";

#[derive(Parser)]
#[command(
    name = "mag",
    version,
    about = "The MagFlock command line",
    after_help = EXIT_CODES
)]
struct Cli {
    /// How admin commands print their result.
    /// table, json, yaml, or a format a running extension adds (see `mag commands`, `format-<name>`).
    #[arg(short, long, global = true, default_value = "table")]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make an ed25519 signing key: <dir>/<publisher>.secret.json (private) and .public.json
    #[command(name = "keys:generate")]
    KeysGenerate {
        #[arg(long)]
        publisher: String,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Pack an extension folder (magflock.toml, the component, migrations/, README.md, assets/) into a .mfx
    #[command(name = "extension:pack")]
    Pack {
        /// The extension folder (holding magflock.toml).
        folder: PathBuf,
        /// The built component (default: <folder>/extension.wasm).
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// The package to write (default: <id-with-dashes>-<version>.mfx).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a package (replacing any earlier signature)
    #[command(name = "extension:sign")]
    Sign {
        package: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
    /// Verify a package against trusted public keys and show what it is
    #[command(name = "extension:verify")]
    Verify {
        package: PathBuf,
        /// Public keys trusted as first-party.
        #[arg(long = "first-party")]
        first_party: Vec<PathBuf>,
        /// Public keys of verified publishers.
        #[arg(long = "publisher")]
        publishers: Vec<PathBuf>,
        /// Accept an unsigned package (development only).
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Write a signed catalog (index.json + index.sig) listing every .mfx in a folder
    #[command(name = "catalog:build")]
    CatalogBuild {
        /// The folder holding the packages; the index is written beside them.
        folder: PathBuf,
        /// The secret key that signs the index.
        #[arg(long)]
        key: PathBuf,
        /// The catalog's name, shown in MagUI.
        #[arg(long, default_value = "MagFlock first-party extensions")]
        name: String,
    },
    /// Print a shell completion script (e.g. `mag completions bash > /etc/bash_completion.d/mag`)
    Completions { shell: clap_complete::Shell },
    #[command(flatten)]
    Admin(admin::AdminCommand),
    /// An extension's command, e.g. `mag naming-policy:check sales_eu` (see `mag commands`)
    #[command(external_subcommand)]
    External(Vec<String>),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            let _ = e.print();
            print_extension_help();
            return ExitCode::SUCCESS;
        }
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::KeysGenerate { publisher, out } => commands::keys_generate(&publisher, &out),
        Command::Pack { folder, wasm, out } => {
            commands::pack(&folder, wasm.as_deref(), out.as_deref())
        }
        Command::Sign { package, key } => commands::sign(&package, &key),
        Command::Verify {
            package,
            first_party,
            publishers,
            allow_unsigned,
        } => commands::verify(&package, &first_party, &publishers, allow_unsigned),
        Command::CatalogBuild { folder, key, name } => {
            commands::catalog_build(&folder, &key, &name)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "mag", &mut script);
            return write_stdout(&script).map_or_else(|e| fail(&e), |()| ExitCode::SUCCESS);
        }
        Command::Admin(command) if admin::streams(&command) => {
            return admin::follow(command, &cli.output)
                .map_or_else(|e| fail(&e), |()| ExitCode::SUCCESS);
        }
        Command::Admin(command) => return show(admin::run(command), cli.output),
        Command::External(words) => {
            return show(admin::run_extension_command(&words), cli.output);
        }
    };
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(problem) => fail(&MagError::failure(problem)),
    }
}

/// After `mag --help`: the commands the running extensions add, when a login
/// is at hand and the server answers (silently nothing otherwise).
fn print_extension_help() {
    let Ok(shown) = admin::client::resolve()
        .and_then(admin::client::Client::new)
        .and_then(|client| admin::commands::extension_commands(&client))
    else {
        return;
    };
    if shown.data["commands"]
        .as_array()
        .is_some_and(|c| !c.is_empty())
    {
        println!("\nExtension commands (from the server):\n{}", shown.table);
    }
}

fn fail(problem: &MagError) -> ExitCode {
    eprintln!("{}", problem.lines());
    ExitCode::from(problem.exit_code())
}

/// Writes to stdout; a closed pipe (`mag ... | head`) is not a failure.
fn write_stdout(bytes: &[u8]) -> Result<(), MagError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(MagError::failure(format!("cannot write the result: {e}")))
        }
        _ => Ok(()),
    }
}

/// Prints an admin command's result in `format` and exits with its status.
fn show(result: Result<admin::output::Shown, MagError>, format: Format) -> ExitCode {
    match result {
        Ok(shown) => {
            let mut text = match &format {
                Format::Extension(name) if !shown.raw => {
                    match admin::render_with_extension(name, &shown.data) {
                        Ok(text) => text,
                        Err(problem) => return fail(&problem),
                    }
                }
                _ => shown.render(&format),
            };
            if !shown.raw && !text.is_empty() {
                text.push('\n');
            }
            // A closed pipe (`mag ... | head`) is not a failure of the command.
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return fail(&MagError::failure(format!("cannot write the result: {e}")));
            }
            if let Some(note) = &shown.note {
                eprintln!("mag: {note}");
            }
            ExitCode::from(shown.code)
        }
        Err(problem) => fail(&problem),
    }
}
