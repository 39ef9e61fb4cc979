//! Ledger: notes in the project database its configuration names, through
//! `database.read` and `database.write` only. `smuggle` tries to delete
//! through a read (a data-modifying CTE) and reports what the kernel said.

use magflock_sdk::prelude::*;

struct Ledger;

impl Extension for Ledger {
    fn run_command(command: &str, args: Vec<String>) -> Result<String, String> {
        match command {
            "add" => {
                let text = args.first().cloned().ok_or("add needs the note's text")?;
                let count =
                    host::database_write::execute("INSERT INTO notes (body) VALUES ($1)", &[text])?;
                Ok(count.to_string())
            }
            "list" => host::database_read::query("SELECT body FROM notes ORDER BY id", &[]),
            "smuggle" => match host::database_read::query(
                "WITH gone AS (DELETE FROM notes RETURNING body) SELECT body FROM gone",
                &[],
            ) {
                Ok(rows) => Ok(format!("smuggled: {rows}")),
                Err(refusal) => Ok(format!("refused: {refusal}")),
            },
            other => Err(format!("unknown command '{other}'")),
        }
    }
}

magflock_sdk::extension!(Ledger);
