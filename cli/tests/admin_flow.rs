//! The admin's flow through the real `mag` binary against a real server
//! (in-process, SQLite) whose catalog this test builds with `mag` itself:
//! steady 1.0.0 and 2.0.0 (2.0.0 asks for one more capability), packed,
//! signed by a first-party key and listed in a signed index.
//!
//! It drives search → install (approved on the command line) → info →
//! upgrade (waits for approval: exit 10) → approvals:decide → rollback →
//! disable → uninstall → audit and health, reading stdout in table, JSON and
//! YAML, and checks the exit codes scripts rely on: 2 (usage), 3 (no or bad
//! token), 4 (an auditor's install), 5 (unknown extension), and `mag login`
//! storing the token with mode 0600 without printing it. `events:tail` shows
//! the newest events as the server counts them, and with `--follow` keeps
//! printing new ones (JSON lines, YAML documents, table rows) until killed.

use leptos::config::LeptosOptions;
use magflock_server::{Config, start};
use magflock_types::{NewUser, Role};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const STEADY: &str = "magflock/steady";
const PASSWORD: &str = "Sturdy-Password-2026";

struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.out, self.err))
    }
}

/// Runs `mag` with `env` (and a login file that does not exist), no stdin.
fn mag_with(env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mag"));
    command
        .args(args)
        .env_remove("MAG_SERVER")
        .env_remove("MAG_TOKEN")
        .env("MAG_CONFIG", "/nonexistent/mag.json")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("mag runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(run: Run, what: &str) -> Run {
    assert_eq!(
        run.code, 0,
        "{what}: exit {}\nstdout: {}\nstderr: {}",
        run.code, run.out, run.err
    );
    run
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A signed catalog with steady 1.0.0 and 2.0.0 in `dir/catalog`, made with
/// `mag`, and the first-party public key beside it.
fn build_catalog(dir: &Path) -> PathBuf {
    let wasm = root().join("target/wasm32-wasip2/guest/magflock_ext_steady.wasm");
    assert!(
        wasm.is_file(),
        "{} is missing: build the extensions first with scripts/build-extensions.sh",
        wasm.display()
    );
    let manifest = std::fs::read_to_string(root().join("extensions/steady/magflock.toml")).unwrap();
    assert!(manifest.contains("\nversion = \"1.0.0\"\n"), "{manifest}");
    let keys = dir.join("keys");
    let catalog = dir.join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    ok(
        mag_with(
            &[],
            &[
                "keys:generate",
                "--publisher",
                "magflock",
                "--out",
                &path(&keys),
            ],
            None,
        ),
        "keys:generate",
    );
    let secret = keys.join("magflock.secret.json");
    let extra = "[[capabilities]]\nname = \"system.background_jobs\"\njustification = \"Queues its pings for later.\"\n\n[[hooks]]";
    for version in ["1.0.0", "2.0.0"] {
        let mut text = manifest.replace(
            "\nversion = \"1.0.0\"\n",
            &format!("\nversion = \"{version}\"\n"),
        );
        if version == "2.0.0" {
            text = text.replacen("[[hooks]]", extra, 1);
        }
        let source = dir.join(format!("steady-{version}"));
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("magflock.toml"), text).unwrap();
        let package = catalog.join(format!("steady-{version}.mfx"));
        ok(
            mag_with(
                &[],
                &[
                    "extension:pack",
                    &path(&source),
                    "--wasm",
                    &path(&wasm),
                    "--out",
                    &path(&package),
                ],
                None,
            ),
            "extension:pack",
        );
        ok(
            mag_with(
                &[],
                &["extension:sign", &path(&package), "--key", &path(&secret)],
                None,
            ),
            "extension:sign",
        );
    }
    ok(
        mag_with(
            &[],
            &["catalog:build", &path(&catalog), "--key", &path(&secret)],
            None,
        ),
        "catalog:build",
    );
    std::fs::copy(
        keys.join("magflock.public.json"),
        catalog.join("first-party.pub"),
    )
    .unwrap();
    catalog
}

fn config(dir: &Path, catalog: PathBuf) -> Config {
    Config {
        database_url: format!("sqlite://{}/magflock.db", dir.display()),
        leptos: LeptosOptions::builder()
            .output_name("magflock")
            .site_root("target/site")
            .site_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .build(),
        public_origin: None,
        trust_proxy: false,
        secure_cookies: false,
        data_dir: dir.join("data"),
        event_retention_days: 7,
        catalog_dir: catalog,
        health_interval_secs: 60,
        keep_previous_hours: 24,
        oidc: None,
    }
}

/// A browser signed in to `base` as `email` (each sign-in publishes `auth.user.login`).
async fn sign_in(base: &str, email: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", base.parse().unwrap());
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let signed_in = browser
        .post(format!("{base}/api/login"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200, "sign-in as {email}");
    browser
}

/// Adds a user, signs in as a browser would and makes a personal access token.
async fn token_for(
    running: &magflock_server::Running,
    base: &str,
    email: &str,
    role: Role,
) -> String {
    let store = &running.store;
    let new = NewUser {
        email: email.into(),
        display_name: email.split('@').next().unwrap().into(),
        role,
        password_hash: magflock_app::server::passwords::hash(PASSWORD).unwrap(),
    };
    if store.user_count().await.unwrap() == 0 {
        store.create_first_owner(new).await.unwrap();
    } else {
        store.create_user(new).await.unwrap();
    }
    let browser = sign_in(base, email).await;
    let made: Value = browser
        .post(format!("{base}/gateway/v1/tokens"))
        .json(&json!({"name": "mag"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    made["token"].as_str().expect("a token").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mag_drives_install_approve_upgrade_rollback_uninstall_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = build_catalog(dir.path());
    let running = start(config(dir.path(), catalog))
        .await
        .expect("server starts");
    let base = format!("http://{}", running.addr);
    let owner = token_for(&running, &base, "owner@example.test", Role::Owner).await;
    let auditor = token_for(&running, &base, "auditor@example.test", Role::Auditor).await;
    let as_owner = [("MAG_SERVER", base.as_str()), ("MAG_TOKEN", owner.as_str())];
    let mag = |args: &[&str]| mag_with(&as_owner, args, None);

    // Search, in all three formats.
    let found = ok(mag(&["extension:search", "steady"]), "search");
    assert!(found.out.starts_with("ID "), "{}", found.out);
    assert!(found.out.contains(STEADY), "{}", found.out);
    let found = ok(mag(&["-o", "json", "extension:search", "steady"]), "search").json();
    let versions: Vec<&str> = found["listings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["entry"]["id"] == STEADY)
        .map(|l| l["entry"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2.0.0"], "search lists the newest: {found}");
    let found = ok(
        mag(&["--output", "yaml", "extension:search", "steady"]),
        "search",
    );
    assert!(found.out.starts_with("listings:\n"), "{}", found.out);
    assert!(found.out.contains("id: magflock/steady"), "{}", found.out);

    // Install 1.0.0, approving everything on the command line.
    let installed = ok(
        mag(&[
            "-o",
            "json",
            "extension:install",
            STEADY,
            "--version",
            "=1.0.0",
            "--approve-all",
        ]),
        "install",
    )
    .json();
    assert_eq!(installed["request"]["status"], "completed", "{installed}");
    assert_eq!(installed["extension"]["version"], "1.0.0", "{installed}");
    assert_eq!(installed["extension"]["state"], "enabled", "{installed}");

    let info = ok(mag(&["extension:info", STEADY]), "info");
    let state_line = info.out.lines().find(|l| l.starts_with("state")).unwrap();
    assert!(state_line.ends_with("enabled"), "{}", info.out);
    assert!(
        info.out
            .lines()
            .any(|l| l.starts_with("version") && l.ends_with("1.0.0")),
        "{}",
        info.out
    );
    // The extension's own commands: listed by `mag commands`, run as `mag steady:<command>`.
    let listed = ok(mag(&["commands"]), "commands");
    assert!(listed.out.contains("mag steady:ping"), "{}", listed.out);
    let help = ok(mag(&["--help"]), "help");
    assert!(
        help.out.contains("Extension commands") && help.out.contains("mag steady:ping"),
        "{}",
        help.out
    );
    // An output format the extension adds: `-o csv` is written by steady's format-csv.
    let csv = ok(mag(&["-o", "csv", "extension:list"]), "csv");
    let header = csv.out.lines().next().unwrap_or_default();
    assert!(header.split(',').any(|c| c == "id"), "{}", csv.out);
    assert!(csv.out.contains(STEADY), "{}", csv.out);
    let xml = mag(&["-o", "xml", "extension:list"]);
    assert_eq!(xml.code, 5, "{}", xml.err);
    assert!(xml.err.contains("output format 'xml'"), "{}", xml.err);
    let pong = ok(mag(&["steady:ping"]), "steady:ping");
    assert_eq!(pong.out.trim(), "pong");
    let missing = mag(&["steady:nothing"]);
    assert_eq!(missing.code, 5, "{}", missing.err);
    assert!(missing.err.contains("mag commands"), "{}", missing.err);

    let info = ok(mag(&["-o", "yaml", "extension:info", STEADY]), "info");
    assert!(
        info.out.contains("\n  version: \"1.0.0\"\n"),
        "{}",
        info.out
    );
    assert!(info.out.contains("\n  state: enabled\n"), "{}", info.out);

    // Upgrade: 2.0.0 asks for more, so it waits (no terminal, no --approve).
    let waiting = mag(&["-o", "json", "extension:upgrade", STEADY]);
    assert_eq!(waiting.code, 10, "{}\n{}", waiting.out, waiting.err);
    assert!(waiting.err.contains("approvals:decide"), "{}", waiting.err);
    let waiting = waiting.json();
    assert_eq!(waiting["upgraded"], false, "{waiting}");
    let request = waiting["request"]["id"].as_str().unwrap().to_string();
    let new: Vec<&Value> = waiting["request"]["plan"]["items"][0]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["new"] == true)
        .collect();
    assert_eq!(new.len(), 1, "{waiting}");
    assert_eq!(new[0]["name"], "system.background_jobs");

    let pending = ok(mag(&["-o", "yaml", "approvals:list"]), "approvals:list");
    assert!(
        pending.out.contains(&format!("    id: {request}\n"))
            || pending.out.contains(&format!("    id: \"{request}\"\n")),
        "{}",
        pending.out
    );
    assert!(
        pending.out.contains("    status: pending\n"),
        "{}",
        pending.out
    );
    let pending = ok(mag(&["approvals:list"]), "approvals:list");
    assert!(
        pending.out.contains(&request) && pending.out.contains("system.background_jobs"),
        "{}",
        pending.out
    );

    // An auditor may look, not decide or install.
    let as_auditor = [
        ("MAG_SERVER", base.as_str()),
        ("MAG_TOKEN", auditor.as_str()),
    ];
    let refused = mag_with(
        &as_auditor,
        &["approvals:decide", &request, "approve"],
        None,
    );
    assert_eq!(refused.code, 4, "{}", refused.err);
    let refused = mag_with(
        &as_auditor,
        &["extension:install", STEADY, "--approve-all"],
        None,
    );
    assert_eq!(refused.code, 4, "{}", refused.err);
    assert!(refused.err.starts_with("mag: "), "{}", refused.err);
    assert!(refused.err.contains("\nhint: "), "{}", refused.err);
    ok(
        mag_with(&as_auditor, &["extension:list"], None),
        "auditor lists",
    );

    let decided = ok(
        mag(&[
            "approvals:decide",
            &request,
            "approve",
            "--comment",
            "more jobs",
        ]),
        "decide",
    );
    assert!(decided.out.contains("completed"), "{}", decided.out);
    let info = ok(mag(&["-o", "json", "extension:info", STEADY]), "info").json();
    assert_eq!(info["extension"]["version"], "2.0.0", "{info}");
    assert_eq!(info["extension"]["previous_version"], "1.0.0", "{info}");
    assert!(
        info["extension"]["granted"]
            .as_array()
            .unwrap()
            .contains(&json!("system.background_jobs")),
        "{info}"
    );

    // Roll back, disable, uninstall.
    let rolled = ok(
        mag(&["-o", "yaml", "extension:rollback", STEADY]),
        "rollback",
    );
    assert!(rolled.out.starts_with("extension:\n"), "{}", rolled.out);
    assert!(
        rolled.out.contains("\n  version: \"1.0.0\"\n"),
        "{}",
        rolled.out
    );
    let disabled = ok(mag(&["extension:disable", STEADY]), "disable");
    let row = disabled.out.lines().nth(1).unwrap();
    assert!(
        row.starts_with(STEADY) && row.contains(" disabled "),
        "{}",
        disabled.out
    );
    let refused = mag(&["extension:rollback", STEADY]);
    assert_eq!(refused.code, 6, "nothing to roll back to: {}", refused.err);
    let gone = ok(
        mag(&["-o", "json", "extension:uninstall", STEADY]),
        "uninstall",
    )
    .json();
    assert_eq!(gone["uninstalled"], STEADY, "{gone}");
    let listed = ok(mag(&["-o", "json", "extension:list"]), "list").json();
    assert_eq!(listed["extensions"], json!([]));
    assert_eq!(ok(mag(&["extension:list"]), "list").out.trim(), "(none)");

    // Audit, events, health.
    let tail = ok(
        mag(&[
            "-o",
            "json",
            "audit:tail",
            "--action",
            "extension.",
            "--limit",
            "200",
        ]),
        "audit:tail",
    )
    .json();
    let actions: Vec<&str> = tail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "extension.install_requested",
        "extension.install_approved",
        "extension.disabled",
        "extension.uninstalled",
    ] {
        assert!(actions.contains(&wanted), "{wanted} in {actions:?}");
    }
    let tail = ok(mag(&["audit:tail", "--limit", "5"]), "audit:tail");
    assert!(tail.out.starts_with("SEQ "), "{}", tail.out);
    let verified = ok(mag(&["audit:verify"]), "audit:verify");
    assert!(
        verified
            .out
            .lines()
            .any(|l| l.starts_with("intact") && l.ends_with("true")),
        "{}",
        verified.out
    );
    assert_eq!(
        ok(mag(&["-o", "json", "audit:verify"]), "verify").json()["intact"],
        true
    );
    assert!(
        ok(mag(&["-o", "yaml", "audit:verify"]), "verify")
            .out
            .starts_with("intact: true\n")
    );
    let csv = dir.path().join("audit.csv");
    let exported = ok(
        mag(&[
            "-o",
            "json",
            "audit:export",
            "--format",
            "csv",
            "--file",
            csv.to_str().unwrap(),
        ]),
        "audit:export",
    )
    .json();
    let count = exported["exported"].as_u64().unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("seq,at,actor_kind,"), "{text}");
    assert_eq!(text.lines().count() as u64, count + 1);
    let all: Vec<Value> =
        serde_json::from_str(&ok(mag(&["audit:export", "--format", "json"]), "export json").out)
            .unwrap();
    assert_eq!(all.len() as u64, count);
    assert!(
        all.windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );

    let events = ok(
        mag(&[
            "-o",
            "json",
            "events:tail",
            "--type",
            "extension.*",
            "--limit",
            "500",
        ]),
        "events:tail",
    )
    .json();
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"extension.installed") && types.contains(&"extension.uninstalled"),
        "{types:?}"
    );
    let replayed = ok(
        mag(&["-o", "json", "events:replay", "--from", "0", "--limit", "3"]),
        "events:replay",
    )
    .json();
    assert_eq!(
        replayed["events"].as_array().unwrap().len(),
        3,
        "{replayed}"
    );

    let health = ok(mag(&["health"]), "health");
    assert!(
        health
            .out
            .lines()
            .any(|l| l.starts_with("healthy") && l.ends_with("true")),
        "{}",
        health.out
    );
    assert!(
        ok(mag(&["-o", "yaml", "health"]), "health")
            .out
            .contains("healthy: true\n")
    );
    assert_eq!(
        ok(mag(&["-o", "json", "health"]), "health").json()["healthy"],
        true
    );

    // Exit codes scripts rely on.
    let unknown = mag(&["extension:info", "acme/nothing"]);
    assert_eq!(unknown.code, 5, "{}", unknown.err);
    let malformed = mag(&["extension:info", "nothing"]);
    assert_eq!(malformed.code, 2, "{}", malformed.err);
    let bogus = mag_with(
        &[("MAG_SERVER", base.as_str()), ("MAG_TOKEN", "mf_bogus")],
        &["extension:list"],
        None,
    );
    assert_eq!(bogus.code, 3, "{}", bogus.err);
    assert!(bogus.err.contains("mag login"), "{}", bogus.err);
    let nobody = mag_with(&[], &["extension:list"], None);
    assert_eq!(nobody.code, 3, "{}", nobody.err);

    // `mag login` keeps the token (mode 0600) without printing it; env overrides.
    let file = dir.path().join("conf/mag.json");
    let login_env = [("MAG_CONFIG", file.to_str().unwrap())];
    let logged_in = ok(
        mag_with(
            &login_env,
            &["login", "--server", &base],
            Some(&format!("{owner}\n")),
        ),
        "login",
    );
    assert!(
        logged_in.out.contains("owner@example.test"),
        "{}",
        logged_in.out
    );
    assert!(!logged_in.out.contains(&owner) && !logged_in.err.contains(&owner));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    ok(
        mag_with(&login_env, &["extension:list"], None),
        "stored login",
    );
    let overridden = mag_with(
        &[login_env[0], ("MAG_TOKEN", "mf_bogus")],
        &["extension:list"],
        None,
    );
    assert_eq!(overridden.code, 3, "MAG_TOKEN overrides the file");
    let refused = mag_with(
        &login_env,
        &["login", "--server", &base],
        Some("mf_bogus\n"),
    );
    assert_eq!(refused.code, 3, "{}", refused.err);
    ok(mag_with(&login_env, &["logout"], None), "logout");
    assert!(!file.exists());
    assert_eq!(mag_with(&login_env, &["extension:list"], None).code, 3);

    running.stop().await;
}

/// `mag events:tail --follow` running in the background, its stdout read line by line.
struct Follower {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn start(env: &[(&str, &str)], args: &[&str]) -> Follower {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mag"));
        command
            .args(args)
            .env("MAG_CONFIG", "/nonexistent/mag.json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("mag runs");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (up to 20 s) until a line printed so far contains `text`; all
    /// lines printed so far.
    async fn until(&mut self, text: &str) -> &[String] {
        for _ in 0..200 {
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            if self.seen.iter().any(|l| l.contains(text)) {
                return &self.seen;
            }
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "mag exited: {:?}",
                self.seen
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no line with {text:?} in {:?}", self.seen);
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_tail_shows_the_newest_and_follows_new_ones_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(config(dir.path(), dir.path().join("no-catalog")))
        .await
        .expect("server starts");
    let base = format!("http://{}", running.addr);
    let owner = token_for(&running, &base, "owner@example.test", Role::Owner).await;
    token_for(&running, &base, "auditor@example.test", Role::Auditor).await;
    for email in [
        "owner@example.test",
        "auditor@example.test",
        "owner@example.test",
    ] {
        sign_in(&base, email).await;
    }
    let env = [("MAG_SERVER", base.as_str()), ("MAG_TOKEN", owner.as_str())];
    let mag = |args: &[&str]| mag_with(&env, args, None);
    let logins = ["--type", "auth.user.login"];

    // The newest N, counted by the server: the last two of the five sign-ins.
    let all = ok(
        mag(&[&["-o", "json", "events:replay", "--from", "0"], &logins[..]].concat()),
        "replay",
    )
    .json();
    let all: Vec<u64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(all.len(), 5, "{all:?}");
    let tail = ok(
        mag(&[&["-o", "json", "events:tail", "--limit", "2"], &logins[..]].concat()),
        "tail",
    )
    .json();
    let seqs: Vec<u64> = tail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, all[3..], "{tail}");
    assert_eq!(
        tail["events"][1]["event"]["data"]["email"], "owner@example.test",
        "{tail}"
    );
    let table = ok(
        mag(&[&["events:tail", "--limit", "2"], &logins[..]].concat()),
        "tail",
    );
    assert_eq!(
        table.out.lines().count(),
        3,
        "a header and two rows: {}",
        table.out
    );
    assert!(table.out.starts_with("SEQ "), "{}", table.out);
    let too_many = mag(&["events:tail", "--limit", "5000"]);
    assert_eq!(too_many.code, 2, "{}", too_many.err);

    // --follow: the newest first, then what is published while it runs.
    let follow = |format: &str| {
        Follower::start(
            &env,
            &[
                &["-o", format, "events:tail", "--follow", "--limit", "1"],
                &logins[..],
            ]
            .concat(),
        )
    };
    let (mut json, mut yaml, mut table) = (follow("json"), follow("yaml"), follow("table"));
    let newest = all[4].to_string();
    json.until(&format!("\"seq\":{newest}")).await;
    yaml.until(&format!("seq: {newest}")).await;
    table.until(&newest).await;
    sign_in(&base, "auditor@example.test").await;
    let lines = json.until("auditor@example.test").await;
    assert_eq!(lines.len(), 2, "one compact JSON event per line: {lines:?}");
    let followed: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(followed["event"]["event_type"], "auth.user.login");
    assert!(followed["seq"].as_u64().unwrap() > all[4], "{followed}");
    let lines = yaml.until("auditor@example.test").await;
    assert_eq!(
        lines.iter().filter(|l| *l == "---").count(),
        2,
        "a YAML document per event: {lines:?}"
    );
    let lines = table.until("auditor@example.test").await;
    assert!(lines[0].starts_with("SEQ "), "{lines:?}");
    assert_eq!(
        lines.len(),
        3,
        "the header once, then a row per event: {lines:?}"
    );
    for follower in [json, yaml, table] {
        follower.stop();
    }
    running.stop().await;
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let run = ok(mag_with(&[], &["completions", shell], None), shell);
        assert!(
            run.out.contains("extension:install"),
            "{shell}: {}",
            run.out
        );
    }
    assert_eq!(mag_with(&[], &["completions", "tcsh"], None).code, 2);
    let help = ok(mag_with(&[], &["--help"], None), "help");
    assert!(
        help.out.contains("10  a request was queued"),
        "{}",
        help.out
    );
}
