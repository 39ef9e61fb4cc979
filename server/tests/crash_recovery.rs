//! Crash safety of the lifecycle: a real `magflock` process is killed (-9)
//! right after it journals each step of each operation; the next start
//! finishes or rolls the operation back, and the extension is in exactly one
//! version and state, with nothing left over.
//!
//! The child pauses at a step because `MAGFLOCK_LIFECYCLE_PAUSE_AT` names it
//! (see `lifecycle/src/journal.rs`); the test waits for "paused at …" on its
//! standard error and kills it with SIGKILL.

use magflock_package::{KeyPair, Package};
use magflock_store::{SqlStore, Store};
use magflock_types::AuditFilter;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ID: &str = "crash/steady";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Steady's own manifest (its component imports what it requests) under
/// this test's id and `version`.
fn steady_manifest(version: &str) -> String {
    let text =
        std::fs::read_to_string(workspace().join("extensions/steady/magflock.toml")).unwrap();
    text.replace("id = \"magflock/steady\"", &format!("id = \"{ID}\""))
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""))
}

fn package(key: &KeyPair, version: &str, migrations: &[(&str, &str, &str)]) -> Vec<u8> {
    let wasm =
        std::fs::read(workspace().join("target/wasm32-wasip2/guest/magflock_ext_steady.wasm"))
            .expect("build the guests first with scripts/build-extensions.sh");
    let mut files = BTreeMap::new();
    files.insert(
        "magflock.toml".to_string(),
        steady_manifest(version).into_bytes(),
    );
    files.insert("extension.wasm".to_string(), wasm);
    for (name, up, down) in migrations {
        files.insert(format!("migrations/{name}.up.sql"), up.as_bytes().to_vec());
        files.insert(
            format!("migrations/{name}.down.sql"),
            down.as_bytes().to_vec(),
        );
    }
    let mut package = Package::from_files(files).unwrap();
    package.sign(key);
    package.to_bytes().unwrap()
}

const NOTES: (&str, &str, &str) = (
    "0001_notes",
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);",
    "DROP TABLE notes;",
);
const TAGS: (&str, &str, &str) = (
    "0002_tags",
    "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);",
    "DROP TABLE tags;",
);

/// One scratch instance: database, data folder, packages and a trusted key.
struct Instance {
    dir: tempfile::TempDir,
}

impl Instance {
    fn new() -> Instance {
        let instance = Instance {
            dir: tempfile::tempdir().unwrap(),
        };
        let key = KeyPair::generate("MagFlock");
        let (_, public) = key.write(&instance.path("keys")).unwrap();
        std::fs::write(instance.path("v1.mfx"), package(&key, "1.0.0", &[NOTES])).unwrap();
        std::fs::write(
            instance.path("v2.mfx"),
            package(&key, "2.0.0", &[NOTES, TAGS]),
        )
        .unwrap();
        instance.ok(&["trust", "add", public.to_str().unwrap(), "--first-party"]);
        instance
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.path("magflock.db").display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_magflock"));
        command
            .args(args)
            .current_dir(workspace())
            .env("DATABASE_URL", self.database_url())
            .env("MAGFLOCK_DATA_DIR", self.path("data"))
            .env("MAGFLOCK_CATALOG_DIR", self.path("catalog"))
            .env("MAGFLOCK_LOG", "warn")
            .env_remove("MAGFLOCK_LIFECYCLE_PAUSE_AT");
        command
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "magflock {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `args` until it pauses at `step`, then kills it with SIGKILL.
    fn kill_at(&self, args: &[&str], step: &str) {
        let mut child = self
            .command(args)
            .env("MAGFLOCK_LIFECYCLE_PAUSE_AT", step)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.contains(&format!("paused at {step}")) => break,
                Ok(line) => seen.push(line),
                Err(_) => {
                    if let Some(status) = child.try_wait().unwrap() {
                        panic!("magflock {args:?} ended ({status}) before {step}: {seen:?}");
                    }
                    assert!(
                        Instant::now() < deadline,
                        "never paused at {step}: {seen:?}"
                    );
                }
            }
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no flush, no goodbye
        child.wait().unwrap();
    }

    /// The state after a restart (which recovers first): (version, state), if installed.
    fn state(&self) -> Option<(String, String)> {
        let listed = self.ok(&["extension", "list", "--json"]);
        let views: serde_json::Value = serde_json::from_str(&listed).unwrap();
        views
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == ID)
            .map(|v| {
                (
                    v["version"].as_str().unwrap().to_string(),
                    v["state"].as_str().unwrap().to_string(),
                )
            })
    }

    fn packages(&self) -> Vec<String> {
        let folder = self.path("data/lifecycle/packages/crash__steady");
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    async fn migrations(&self) -> Vec<String> {
        let file = self.path("data/extension-data").join(area_file());
        if !file.exists() {
            return Vec::new();
        }
        let url = format!("sqlite://{}", file.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM _migrations ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
        pool.close().await;
        names.into_iter().map(|(n,)| n).collect()
    }

    async fn audited(&self, action: &str) -> bool {
        let store = SqlStore::open(&self.database_url()).await.unwrap();
        let page = store
            .audit_list(&AuditFilter {
                action: Some(action.to_string()),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        !page.entries.is_empty()
    }

    fn journal_is_empty(&self) -> bool {
        // A second start finds nothing more to recover.
        let out = self
            .command(&["extension", "list"])
            .env("MAGFLOCK_LOG", "warn")
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stderr).contains("recovered")
    }
}

fn area_file() -> &'static Path {
    Path::new("crash__steady.sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_install_is_rolled_back_or_finished() {
    for step in [
        "files",
        "registering",
        "install_called",
        "migrating",
        "health_check",
        "committing",
        "committed",
    ] {
        let i = Instance::new();
        let v1 = i.path("v1.mfx");
        i.kill_at(
            &["extension", "install", v1.to_str().unwrap(), "--approve"],
            &format!("install:{step}"),
        );
        let state = i.state();
        if step == "committed" {
            assert_eq!(
                state,
                Some(("1.0.0".into(), "disabled".into())),
                "at {step}"
            );
            assert_eq!(i.packages(), ["1.0.0.mfx"], "at {step}");
            assert_eq!(i.migrations().await, ["0001_notes"], "at {step}");
        } else {
            assert_eq!(state, None, "at {step}: rolled back");
            assert!(
                i.packages().is_empty(),
                "at {step}: files left: {:?}",
                i.packages()
            );
            assert!(
                i.migrations().await.is_empty(),
                "at {step}: migrations left"
            );
            // And the same install then works.
            i.ok(&["extension", "install", v1.to_str().unwrap(), "--approve"]);
            assert_eq!(
                i.state(),
                Some(("1.0.0".into(), "disabled".into())),
                "after {step}"
            );
        }
        assert!(i.audited("extension.install_recovered").await, "at {step}");
        assert!(
            i.audited("extension.install_interrupted").await,
            "the request is closed"
        );
        assert!(i.journal_is_empty(), "at {step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upgrade_keeps_exactly_one_version() {
    for step in [
        "files",
        "preparing",
        "stopping_old",
        "install_called",
        "migrating",
        "health_check",
        "switching",
        "switched",
    ] {
        let i = Instance::new();
        let (v1, v2) = (i.path("v1.mfx"), i.path("v2.mfx"));
        i.ok(&[
            "extension",
            "install",
            v1.to_str().unwrap(),
            "--approve",
            "--enable",
        ]);
        i.kill_at(
            &["extension", "upgrade", v2.to_str().unwrap()],
            &format!("upgrade:{step}"),
        );
        let state = i.state();
        if step == "switched" {
            assert_eq!(state, Some(("2.0.0".into(), "enabled".into())), "at {step}");
            assert_eq!(i.packages(), ["1.0.0.mfx", "2.0.0.mfx"], "old version kept");
            assert_eq!(
                i.migrations().await,
                ["0001_notes", "0002_tags"],
                "at {step}"
            );
        } else {
            assert_eq!(state, Some(("1.0.0".into(), "enabled".into())), "at {step}");
            assert_eq!(i.packages(), ["1.0.0.mfx"], "at {step}");
            assert_eq!(
                i.migrations().await,
                ["0001_notes"],
                "at {step}: new migration reverted"
            );
        }
        assert!(i.audited("extension.upgrade_recovered").await, "at {step}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_enable_disable_uninstall_and_rollback_end_consistent() {
    let i = Instance::new();
    let (v1, v2) = (i.path("v1.mfx"), i.path("v2.mfx"));
    i.ok(&["extension", "install", v1.to_str().unwrap(), "--approve"]);
    for step in ["loading", "starting", "committing"] {
        i.kill_at(&["extension", "enable", ID], &format!("enable:{step}"));
        assert_eq!(
            i.state(),
            Some(("1.0.0".into(), "disabled".into())),
            "enable:{step}"
        );
    }
    i.ok(&["extension", "enable", ID]);
    for step in ["stopping", "committing"] {
        i.kill_at(&["extension", "disable", ID], &format!("disable:{step}"));
        assert_eq!(
            i.state(),
            Some(("1.0.0".into(), "enabled".into())),
            "disable:{step}"
        );
    }
    i.ok(&["extension", "upgrade", v2.to_str().unwrap()]);
    i.kill_at(&["extension", "rollback", ID], "rollback:health_check");
    assert_eq!(
        i.state(),
        Some(("2.0.0".into(), "enabled".into())),
        "nothing changed yet"
    );
    i.kill_at(&["extension", "rollback", ID], "rollback:reverting");
    assert_eq!(
        i.state(),
        Some(("1.0.0".into(), "enabled".into())),
        "rollback finished"
    );
    assert_eq!(i.packages(), ["1.0.0.mfx"]);
    assert_eq!(i.migrations().await, ["0001_notes"]);

    i.ok(&["extension", "disable", ID]);
    for step in ["uninstall_called", "migrations_down", "removing"] {
        let j = Instance::new();
        let v1 = j.path("v1.mfx");
        j.ok(&["extension", "install", v1.to_str().unwrap(), "--approve"]);
        j.kill_at(
            &["extension", "uninstall", ID],
            &format!("uninstall:{step}"),
        );
        assert_eq!(j.state(), None, "uninstall:{step} finished");
        assert!(j.packages().is_empty(), "uninstall:{step}");
        assert!(j.migrations().await.is_empty(), "uninstall:{step}");
        assert!(
            j.audited("extension.uninstall_recovered").await,
            "uninstall:{step}"
        );
    }
}
