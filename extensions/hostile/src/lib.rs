//! Hostile: misbehaves on command. Each command is one attack the sandbox
//! must contain; `ping` proves the instance works before an attack.

use magflock_sdk::prelude::*;
use std::hint::black_box;

struct Hostile;

/// Deep recursion with small frames, so it exhausts the engine's stack
/// (not just the shadow stack in linear memory).
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(depth + 1)).wrapping_add(1)
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = black_box(x.wrapping_add(1));
    }
}

impl Extension for Hostile {
    fn run_command(command: &str, _args: Vec<String>) -> Result<String, String> {
        match command {
            "ping" => Ok("pong".into()),
            "spin" => spin(),
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "recurse" => Ok(recurse(0).to_string()),
            "panic" => panic!("hostile extension panicked on purpose"),
            "write-db" => {
                host::database_write::execute("DELETE FROM users", &[]).map(|n| n.to_string())
            }
            "write-file" => {
                host::filesystem_temp::write("loot.txt", b"x").map(|_| "written".into())
            }
            "call-out" => host::network_outbound::fetch(&host::network_outbound::OutboundRequest {
                method: "GET".into(),
                url: "http://127.0.0.1:9/".into(),
                headers: Vec::new(),
                body: Vec::new(),
                timeout_ms: 100,
            })
            .map(|r| r.status.to_string()),
            "huge" => Ok("x".repeat(8 << 20)),
            "ambient" => {
                // Without a grant there is no file system, network or environment.
                let file = std::fs::read_to_string("/etc/passwd").map(|s| s.len());
                let env = std::env::vars().count();
                let net = std::net::TcpStream::connect("127.0.0.1:5432").map(|_| ());
                Ok(format!("file={file:?} env={env} net={net:?}"))
            }
            other => Err(format!("unknown command '{other}'")),
        }
    }

    fn handle_hook(_hook: Hook) -> Result<HookOutcome, String> {
        // A filter slower than its deadline: busy for 30 s of wall clock.
        let started = std::time::Instant::now();
        while started.elapsed().as_secs() < 30 {
            black_box(started);
        }
        Ok(HookOutcome::Allow)
    }
}

magflock_sdk::extension!(Hostile);
