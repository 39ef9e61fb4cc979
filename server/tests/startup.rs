//! Start-up failures name their setting; the admin command line creates
//! accounts headlessly; a database outage at runtime shows a clear page and the
//! server recovers by itself when the database returns.

mod support;

use magflock_server::start;
use magflock_store::testing::{drop_pg_database, fresh_pg_database, pg_admin_url, pg_url_for};
use sqlx::Connection;
use std::process::{Command, Stdio};
use support::{PASSWORD, config_for};

fn magflock(args: &[&str], envs: &[(&str, &str)], stdin: &str) -> (i32, String, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_magflock"))
        .args(args)
        .current_dir(root)
        .env_remove("DATABASE_URL")
        .env_remove("MAGFLOCK_ADMIN_PASSWORD")
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn a_bad_database_url_names_the_setting_and_hides_the_password() {
    let err = start(config_for("mysql://root:hunter2@db/magflock"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("DATABASE_URL: expected a URL starting with sqlite:// or postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn an_unreachable_database_names_the_setting() {
    let err = start(config_for(
        "postgres://postgres:s3cret@127.0.0.1:1/magflock",
    ))
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.starts_with("DATABASE_URL: cannot reach the database at postgres://postgres:***@127.0.0.1:1/magflock"), "{err}");
}

#[tokio::test]
async fn a_port_in_use_names_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&format!("sqlite://{}/m.db", dir.path().display()));
    config.leptos.site_addr = taken.local_addr().unwrap();
    let err = start(config).await.err().unwrap().to_string();
    assert!(
        err.starts_with("LEPTOS_SITE_ADDR (site-addr in Leptos.toml): cannot listen on 127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("already in use"), "{err}");
}

#[test]
fn a_bad_setting_stops_the_binary_with_one_clear_line() {
    let (code, _, stderr) = magflock(&[], &[("MAGFLOCK_TRUST_PROXY", "maybe")], "");
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "magflock: error: MAGFLOCK_TRUST_PROXY: expected true or false, got 'maybe'"
    );
    let (code, _, stderr) = magflock(&[], &[("MAGFLOCK_PUBLIC_URL", "admin.example.com")], "");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("MAGFLOCK_PUBLIC_URL: not a valid URL"),
        "{stderr}"
    );
}

#[test]
fn admin_create_works_headlessly_and_refuses_weak_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db", dir.path().display());
    let (code, stdout, stderr) = magflock(
        &[
            "admin",
            "create",
            "--email",
            "Root@Example.com",
            "--name",
            "Root",
        ],
        &[("DATABASE_URL", &url)],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "Created root@example.com (Owner).");

    let (code, _, stderr) = magflock(
        &[
            "admin",
            "create",
            "--email",
            "b@example.com",
            "--name",
            "B",
            "--role",
            "auditor",
        ],
        &[("DATABASE_URL", &url)],
        "short\n",
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("password: Password must be at least 12 characters long."),
        "{stderr}"
    );

    let (code, _, stderr) = magflock(
        &[
            "admin",
            "create",
            "--email",
            "root@example.com",
            "--name",
            "R",
            "--role",
            "admin",
        ],
        &[("DATABASE_URL", &url)],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("already exists"), "{stderr}");
}

/// Stops new connections to `database` and ends the open ones, or lets them in again.
async fn set_reachable(database: &str, reachable: bool) {
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS {reachable}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    if !reachable {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(database)
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_shows_a_clear_page_and_recovers() {
    let name = fresh_pg_database().await;
    let running = start(config_for(&pg_url_for(&name))).await.unwrap();
    let server_base = format!("http://{}", running.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = || {
        client
            .get(format!("{server_base}/login"))
            .header("accept", "text/html")
            .send()
    };

    set_reachable(&name, false).await;
    let down = page().await.unwrap();
    assert_eq!(down.status(), 503);
    assert!(
        down.text()
            .await
            .unwrap()
            .contains("The control-plane database is unreachable")
    );

    set_reachable(&name, true).await;
    let mut status = 0;
    for _ in 0..20 {
        status = page().await.unwrap().status().as_u16();
        if status == 302 {
            break; // no account yet: sign-in sends the visitor to setup
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(status, 302, "recovered without a restart");
    running.stop().await;
    drop_pg_database(&name).await;
}
