//! Where `mag` finds the server and its token, and how it calls the admin
//! API (`<server>/gateway/v1/...` with `Authorization: Bearer mf_...`).
//!
//! Guarantees: `MAG_SERVER` and `MAG_TOKEN` override the stored login
//! (`$MAG_CONFIG`, else `$HOME/.config/magflock/mag.json`), which is written
//! through a temporary file with mode 0600 in a 0700 folder; the token is
//! sent only in the Authorization header and never printed or put in an
//! error; every HTTP answer other than 2xx becomes one [`MagError`] carrying
//! the server's own message and a hint with the fix.

use crate::error::{Kind, MagError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// How long one call may take: an approval verifies, compiles and starts
/// the extension before it answers.
const CALL_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Clone, Serialize, Deserialize)]
pub struct Login {
    pub server: String,
    pub token: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("server", &self.server)
            .field("token", &"<hidden>")
            .finish()
    }
}

pub const LOGIN_HINT: &str = "run `mag login --server URL` with a personal access token made in MagUI (or set MAG_SERVER and MAG_TOKEN)";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The stored login's file.
pub fn config_path() -> Result<PathBuf, MagError> {
    if let Some(path) = env("MAG_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let home = env("HOME").ok_or_else(|| {
        MagError::failure(
            "neither MAG_CONFIG nor HOME is set, so mag has nowhere to keep its login",
        )
        .with_hint("set MAG_CONFIG to a file path")
    })?;
    Ok(PathBuf::from(home).join(".config/magflock/mag.json"))
}

pub fn read_stored() -> Result<Option<Login>, MagError> {
    let path = config_path()?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            MagError::failure(format!("{}: not a mag login file: {e}", path.display()))
                .with_hint("run `mag logout`, then `mag login --server URL`")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MagError::failure(format!("{}: {e}", path.display()))),
    }
}

/// Stores `login` (mode 0600) and returns where.
pub fn store(login: &Login) -> Result<PathBuf, MagError> {
    let path = config_path()?;
    let at = |e: std::io::Error| MagError::failure(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(at)?;
    }
    let temp = path.with_extension("json.partial");
    let bytes = serde_json::to_vec_pretty(login).unwrap_or_default();
    write_private(&temp, &bytes).map_err(at)?;
    std::fs::rename(&temp, &path).map_err(at)?;
    Ok(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes the stored login; tells whether there was one.
pub fn forget() -> Result<Option<Login>, MagError> {
    let stored = read_stored()?;
    if stored.is_some() {
        let path = config_path()?;
        std::fs::remove_file(&path)
            .map_err(|e| MagError::failure(format!("{}: {e}", path.display())))?;
    }
    Ok(stored)
}

/// The server and token to use: the environment first, then the stored login.
pub fn resolve() -> Result<Login, MagError> {
    let stored = read_stored()?;
    let server = env("MAG_SERVER").or_else(|| stored.as_ref().map(|l| l.server.clone()));
    let token = env("MAG_TOKEN").or_else(|| stored.as_ref().map(|l| l.token.clone()));
    match (server, token) {
        (Some(server), Some(token)) => Ok(Login { server, token }),
        _ => Err(
            MagError::new(Kind::NotSignedIn, "not signed in to a MagFlock server")
                .with_hint(LOGIN_HINT),
        ),
    }
}

/// Checks a server URL: http(s), no query; returns it without a trailing `/`.
pub fn normalize_server(server: &str) -> Result<String, MagError> {
    let url = url::Url::parse(server.trim()).map_err(|e| {
        MagError::usage(format!("--server '{server}' is not a URL: {e}"))
            .with_hint("give the server's address, e.g. `--server https://magflock.example.com`")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
        return Err(MagError::usage(format!(
            "--server '{server}' must be an http or https address without a query"
        ))
        .with_hint("give the server's address, e.g. `--server https://magflock.example.com`"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

pub struct Client {
    server: String,
    token: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

pub enum Method {
    Get,
    Post,
    Delete,
}

impl Client {
    pub fn new(login: Login) -> Result<Client, MagError> {
        let server = normalize_server(&login.server)?;
        if !login.token.starts_with("mf_") {
            return Err(MagError::new(
                Kind::NotSignedIn,
                "the token does not look like a MagFlock token (mf_...)",
            )
            .with_hint(LOGIN_HINT));
        }
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mag/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MagError::failure(format!("cannot set up HTTP: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| MagError::failure(format!("cannot start the HTTP runtime: {e}")))?;
        Ok(Client {
            server,
            token: login.token,
            http,
            runtime,
        })
    }

    /// `<server>/gateway/v1/<segments...>`, each segment escaped.
    fn url(&self, segments: &[&str]) -> Result<url::Url, MagError> {
        let mut url = url::Url::parse(&self.server)
            .map_err(|e| MagError::failure(format!("server address: {e}")))?;
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| MagError::failure("the server address cannot take a path"))?;
            path.pop_if_empty().push("gateway").push("v1");
            for segment in segments {
                path.push(segment);
            }
        }
        Ok(url)
    }

    pub fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Value, MagError> {
        self.call(Method::Get, segments, query, None)
    }

    pub fn post(&self, segments: &[&str], body: Value) -> Result<Value, MagError> {
        self.call(Method::Post, segments, &[], Some(body))
    }

    pub fn delete(&self, segments: &[&str]) -> Result<Value, MagError> {
        self.call(Method::Delete, segments, &[], None)
    }

    pub fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Value, MagError> {
        let url = self.url(segments)?;
        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("accept", "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let server = self.server.clone();
        self.runtime.block_on(async move {
            let response = request.send().await.map_err(|e| unreachable(&server, &e))?;
            let status = response.status().as_u16();
            let text = response
                .text()
                .await
                .map_err(|e| unreachable(&server, &e))?;
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            if (200..300).contains(&status) {
                return parsed.ok_or_else(|| {
                    MagError::new(
                        Kind::Unreachable,
                        format!("{server} answered HTTP {status} with something that is not JSON"),
                    )
                    .with_hint("check that --server is the MagFlock server's address")
                });
            }
            Err(http_error(status, parsed.as_ref(), &text))
        })
    }
}

fn unreachable(server: &str, e: &reqwest::Error) -> MagError {
    let why = if e.is_timeout() {
        "it did not answer in time".to_string()
    } else if e.is_connect() {
        "the connection failed".to_string()
    } else {
        // reqwest's errors name the URL, never the Authorization header.
        e.to_string()
    };
    MagError::new(Kind::Unreachable, format!("cannot reach {server}: {why}"))
        .with_hint("check that the server runs and that the address is right (`mag login --server URL`, or MAG_SERVER)")
}

/// One non-2xx answer as an error: the server's message and the fix.
pub fn http_error(status: u16, body: Option<&Value>, text: &str) -> MagError {
    let message = body
        .and_then(|b| b.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let text = text.trim();
            if text.is_empty() || text.len() > 200 || text.starts_with('<') {
                format!("the server answered HTTP {status}")
            } else {
                format!("the server answered HTTP {status}: {text}")
            }
        });
    let kind = MagError::kind_of_status(status);
    let hint = match kind {
        Kind::NotSignedIn => Some(
            "make a new personal access token in MagUI and run `mag login --server URL` (or set MAG_TOKEN)"
                .to_string(),
        ),
        Kind::Forbidden => Some(
            "this needs the admin or owner role: use a token of such a user, or ask an owner to change your role"
                .to_string(),
        ),
        Kind::NotFound => Some(
            "check the id with `mag extension:list`, `mag extension:search` or `mag approvals:list`"
                .to_string(),
        ),
        Kind::Refused => Some(
            "check the extension's state with `mag extension:info ID` and the command's options with `mag help`"
                .to_string(),
        ),
        Kind::Unreachable => Some("retry later; if it persists, see the server's log".to_string()),
        _ if status == 429 => Some("wait a little and retry".to_string()),
        _ => None,
    };
    let error = MagError::new(kind, message);
    match hint {
        Some(hint) => error.with_hint(hint),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_addresses_are_checked() {
        assert_eq!(
            normalize_server("http://127.0.0.1:3000/").unwrap(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(normalize_server("ftp://x").unwrap_err().exit_code(), 2);
        assert_eq!(normalize_server("nothing").unwrap_err().exit_code(), 2);
    }

    #[test]
    fn errors_carry_the_servers_message() {
        let e = http_error(
            409,
            Some(&json!({"error": "conflict", "message": "it is enabled"})),
            "",
        );
        assert_eq!((e.exit_code(), e.message.as_str()), (6, "it is enabled"));
        assert!(e.hint.is_some());
        let e = http_error(502, None, "<html>bad gateway</html>");
        assert_eq!(
            (e.exit_code(), e.message.as_str()),
            (7, "the server answered HTTP 502")
        );
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let login = Login {
            server: "http://x".into(),
            token: "mf_secret".into(),
        };
        assert!(!format!("{login:?}").contains("mf_secret"));
    }
}
