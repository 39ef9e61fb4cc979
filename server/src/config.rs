//! Configuration from the environment and `Leptos.toml`.
//!
//! Guarantees: every setting is read and checked here, once, before anything
//! starts; a malformed value is an error naming the variable and what was
//! expected; secrets (database passwords) never appear in messages.

use crate::StartError;
use leptos::config::LeptosOptions;
use magflock_types::Role;
use std::net::SocketAddr;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/magflock.db";

#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL`: `sqlite://...` (default) or `postgres://...`.
    pub database_url: String,
    /// Site options (address, asset folders) from `Leptos.toml`, overridable by
    /// `LEPTOS_SITE_ADDR` and the other `LEPTOS_*` variables.
    pub leptos: LeptosOptions,
    /// `MAGFLOCK_PUBLIC_URL`: the address people use, when it differs from the
    /// listening address (behind a proxy). `https://` turns on Secure cookies.
    pub public_origin: Option<String>,
    /// `MAGFLOCK_TRUST_PROXY`: take the client address from `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// `MAGFLOCK_SECURE_COOKIES`: force the Secure cookie flag (default: on when
    /// the public URL is https).
    pub secure_cookies: bool,
    /// `MAGFLOCK_DATA_DIR` (default `data`): compiled-component cache and the
    /// extensions' private folders.
    pub data_dir: std::path::PathBuf,
    /// `MAGFLOCK_EVENT_RETENTION_DAYS` (default 7): how long bus events are kept.
    pub event_retention_days: u32,
    /// `MAGFLOCK_CATALOG_DIR` (default `target/catalog`): the local catalog, the
    /// first-party packages the build signed, and the first-party public key.
    pub catalog_dir: std::path::PathBuf,
    /// `MAGFLOCK_HEALTH_INTERVAL_SECS` (default 60): how often the monitor
    /// checks each enabled extension.
    pub health_interval_secs: u32,
    /// `MAGFLOCK_KEEP_PREVIOUS_HOURS` (default 24): how long the version an
    /// upgrade replaced is kept for a one-click rollback.
    pub keep_previous_hours: u32,
    /// `MAGFLOCK_OIDC_*`: single sign-on to MagUI with an OpenID Connect
    /// provider, when `MAGFLOCK_OIDC_ISSUER` is set.
    pub oidc: Option<OidcConfig>,
}

/// An OpenID Connect provider for signing in to MagUI.
#[derive(Clone)]
pub struct OidcConfig {
    /// `MAGFLOCK_OIDC_ISSUER`: the issuer URL (discovery reads
    /// `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// `MAGFLOCK_OIDC_CLIENT_ID` (required with an issuer).
    pub client_id: String,
    /// `MAGFLOCK_OIDC_CLIENT_SECRET` (unset for a public client; PKCE is always used).
    pub client_secret: Option<String>,
    /// `MAGFLOCK_OIDC_NAME` (default "single sign-on"): the button says "Sign in with <name>".
    pub name: String,
    /// `MAGFLOCK_OIDC_DEFAULT_ROLE` (default auditor; admin allowed, owner refused):
    /// the role of a user created at their first sign-in.
    pub default_role: Role,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<set>"),
            )
            .field("name", &self.name)
            .field("default_role", &self.default_role)
            .finish()
    }
}

/// Reads the `MAGFLOCK_OIDC_*` settings through `get` (unset or empty → `None`).
pub fn oidc_from(get: impl Fn(&str) -> Option<String>) -> Result<Option<OidcConfig>, StartError> {
    let Some(issuer) = get("MAGFLOCK_OIDC_ISSUER") else {
        return Ok(None);
    };
    let parsed = url::Url::parse(issuer.trim()).map_err(|e| {
        StartError::config(
            "MAGFLOCK_OIDC_ISSUER",
            format!("not a valid URL ({e}): '{issuer}'"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(StartError::config(
            "MAGFLOCK_OIDC_ISSUER",
            format!("expected an http:// or https:// URL, got '{issuer}'"),
        ));
    }
    let client_id = get("MAGFLOCK_OIDC_CLIENT_ID").ok_or_else(|| {
        StartError::config(
            "MAGFLOCK_OIDC_CLIENT_ID",
            "required when MAGFLOCK_OIDC_ISSUER is set (the client id registered at the provider)",
        )
    })?;
    let default_role = match get("MAGFLOCK_OIDC_DEFAULT_ROLE") {
        None => Role::Auditor,
        Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
            "auditor" => Role::Auditor,
            "admin" => Role::Admin,
            "owner" => {
                return Err(StartError::config(
                    "MAGFLOCK_OIDC_DEFAULT_ROLE",
                    "owner is refused: anyone with an account at the provider would own this instance; choose auditor or admin",
                ));
            }
            _ => {
                return Err(StartError::config(
                    "MAGFLOCK_OIDC_DEFAULT_ROLE",
                    format!("expected auditor or admin, got '{raw}'"),
                ));
            }
        },
    };
    Ok(Some(OidcConfig {
        issuer: issuer.trim().to_string(),
        client_id: client_id.trim().to_string(),
        client_secret: get("MAGFLOCK_OIDC_CLIENT_SECRET"),
        name: get("MAGFLOCK_OIDC_NAME")
            .map(|n| n.trim().to_string())
            .unwrap_or_else(|| "single sign-on".to_string()),
        default_role,
    }))
}

/// Reads one environment variable (unset or empty → `None`).
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A whole number from `min` to `max` (`unit` names it in the error).
pub fn parse_bounded(
    setting: &str,
    raw: &str,
    min: u32,
    max: u32,
    unit: &str,
) -> Result<u32, StartError> {
    match raw.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(StartError::config(
            setting,
            format!(
                "'{}' is not a number of {unit} from {min} to {max}",
                raw.trim()
            ),
        )),
    }
}

/// A whole number of days from 1 to 3650.
pub fn parse_days(setting: &str, raw: &str) -> Result<u32, StartError> {
    parse_bounded(setting, raw, 1, 3650, "days")
}

pub fn parse_bool(setting: &str, raw: &str) -> Result<bool, StartError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(StartError::config(
            setting,
            format!("expected true or false, got '{raw}'"),
        )),
    }
}

/// `scheme://host[:port]` of a URL, or an error naming `setting`.
pub fn parse_origin(setting: &str, raw: &str) -> Result<String, StartError> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| StartError::config(setting, format!("not a valid URL ({e}): '{raw}'")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(StartError::config(
            setting,
            format!("expected an http:// or https:// URL, got '{raw}'"),
        ));
    }
    Ok(url.origin().ascii_serialization())
}

impl Config {
    /// Reads the configuration from the environment and `leptos_toml`.
    pub fn from_env(leptos_toml: &str) -> Result<Config, StartError> {
        let leptos = leptos::config::get_configuration(Some(leptos_toml))
            .map_err(|e| StartError::config(leptos_toml_setting(leptos_toml), e.to_string()))?
            .leptos_options;
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        magflock_store::Engine::of_url(&database_url)?;
        let public_origin = var("MAGFLOCK_PUBLIC_URL")
            .map(|u| parse_origin("MAGFLOCK_PUBLIC_URL", &u))
            .transpose()?;
        let trust_proxy = var("MAGFLOCK_TRUST_PROXY")
            .map(|v| parse_bool("MAGFLOCK_TRUST_PROXY", &v))
            .transpose()?
            .unwrap_or(false);
        let https = public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"));
        let secure_cookies = var("MAGFLOCK_SECURE_COOKIES")
            .map(|v| parse_bool("MAGFLOCK_SECURE_COOKIES", &v))
            .transpose()?
            .unwrap_or(https);
        let data_dir = var("MAGFLOCK_DATA_DIR")
            .unwrap_or_else(|| "data".into())
            .into();
        let event_retention_days = var("MAGFLOCK_EVENT_RETENTION_DAYS")
            .map(|v| parse_days("MAGFLOCK_EVENT_RETENTION_DAYS", &v))
            .transpose()?
            .unwrap_or(7);
        let catalog_dir = var("MAGFLOCK_CATALOG_DIR")
            .unwrap_or_else(|| "target/catalog".into())
            .into();
        let health_interval_secs = var("MAGFLOCK_HEALTH_INTERVAL_SECS")
            .map(|v| parse_bounded("MAGFLOCK_HEALTH_INTERVAL_SECS", &v, 1, 86_400, "seconds"))
            .transpose()?
            .unwrap_or(60);
        let keep_previous_hours = var("MAGFLOCK_KEEP_PREVIOUS_HOURS")
            .map(|v| parse_bounded("MAGFLOCK_KEEP_PREVIOUS_HOURS", &v, 0, 8_760, "hours"))
            .transpose()?
            .unwrap_or(24);
        let oidc = oidc_from(var)?;
        Ok(Config {
            database_url,
            leptos,
            public_origin,
            trust_proxy,
            secure_cookies,
            data_dir,
            event_retention_days,
            catalog_dir,
            health_interval_secs,
            keep_previous_hours,
            oidc,
        })
    }

    pub fn site_addr(&self) -> SocketAddr {
        self.leptos.site_addr
    }
}

fn leptos_toml_setting(path: &str) -> String {
    if std::path::Path::new(path).exists() {
        path.to_string()
    } else {
        format!("{path} (file not found; run magflock from the project folder)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_settings_are_checked() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(oidc_from(env(&[])).unwrap().is_none());
        let oidc = oidc_from(env(&[
            ("MAGFLOCK_OIDC_ISSUER", "http://127.0.0.1:9000"),
            ("MAGFLOCK_OIDC_CLIENT_ID", "magflock"),
            ("MAGFLOCK_OIDC_CLIENT_SECRET", "s3cret"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(oidc.default_role, Role::Auditor);
        assert_eq!(oidc.name, "single sign-on");
        assert!(!format!("{oidc:?}").contains("s3cret"));
        let missing_client = oidc_from(env(&[("MAGFLOCK_OIDC_ISSUER", "https://id.example.com")]));
        assert!(
            missing_client
                .unwrap_err()
                .to_string()
                .starts_with("MAGFLOCK_OIDC_CLIENT_ID")
        );
        for (role, ok) in [("admin", true), ("owner", false), ("root", false)] {
            let pairs: &'static [(&'static str, &'static str)] = match role {
                "admin" => &[
                    ("MAGFLOCK_OIDC_ISSUER", "https://id.example.com"),
                    ("MAGFLOCK_OIDC_CLIENT_ID", "c"),
                    ("MAGFLOCK_OIDC_DEFAULT_ROLE", "admin"),
                ],
                "owner" => &[
                    ("MAGFLOCK_OIDC_ISSUER", "https://id.example.com"),
                    ("MAGFLOCK_OIDC_CLIENT_ID", "c"),
                    ("MAGFLOCK_OIDC_DEFAULT_ROLE", "owner"),
                ],
                _ => &[
                    ("MAGFLOCK_OIDC_ISSUER", "https://id.example.com"),
                    ("MAGFLOCK_OIDC_CLIENT_ID", "c"),
                    ("MAGFLOCK_OIDC_DEFAULT_ROLE", "root"),
                ],
            };
            let result = oidc_from(env(pairs));
            assert_eq!(result.is_ok(), ok, "{role}");
            if let Err(e) = result {
                assert!(
                    e.to_string().starts_with("MAGFLOCK_OIDC_DEFAULT_ROLE"),
                    "{e}"
                );
            }
        }
        assert!(
            oidc_from(env(&[
                ("MAGFLOCK_OIDC_ISSUER", "ftp://x"),
                ("MAGFLOCK_OIDC_CLIENT_ID", "c")
            ]))
            .is_err()
        );
    }

    #[test]
    fn retention_days_are_bounded() {
        assert_eq!(parse_days("D", " 30 ").unwrap(), 30);
        for bad in ["0", "3651", "-1", "week"] {
            let err = parse_days("MAGFLOCK_EVENT_RETENTION_DAYS", bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("MAGFLOCK_EVENT_RETENTION_DAYS") && err.contains(bad),
                "{err}"
            );
        }
    }

    #[test]
    fn bools_and_origins() {
        assert!(parse_bool("X", "Yes").unwrap());
        assert_eq!(
            parse_bool("MAGFLOCK_TRUST_PROXY", "maybe")
                .unwrap_err()
                .to_string(),
            "MAGFLOCK_TRUST_PROXY: expected true or false, got 'maybe'"
        );
        assert_eq!(
            parse_origin("U", "https://admin.example.com/x/y").unwrap(),
            "https://admin.example.com"
        );
        assert_eq!(
            parse_origin("U", "http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        assert!(
            parse_origin("MAGFLOCK_PUBLIC_URL", "ftp://x")
                .unwrap_err()
                .to_string()
                .starts_with("MAGFLOCK_PUBLIC_URL: expected")
        );
    }
}
