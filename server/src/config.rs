//! Configuration from the environment and `Leptos.toml`.
//!
//! Guarantees: every setting is read and checked here, once, before anything
//! starts; a malformed value is an error naming the variable and what was
//! expected; secrets (database passwords) never appear in messages.

use crate::StartError;
use leptos::config::LeptosOptions;
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
}

/// Reads one environment variable (unset or empty → `None`).
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
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
        Ok(Config {
            database_url,
            leptos,
            public_origin,
            trust_proxy,
            secure_cookies,
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
