//! `mag`, the MagFlock command line: the extension author's and publisher's
//! commands (keys, packages, catalogs).
//!
//! Guarantees: every command either does all it says or changes nothing (a
//! package or signature is written to a temporary file and renamed into
//! place); failures print one line naming the file and the problem and exit
//! with status 1 (2 for a wrong command line).

mod commands;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mag", version, about = "The MagFlock command line")]
struct Cli {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    };
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("mag: {problem}");
            ExitCode::from(1)
        }
    }
}
