//! Instance settings: what they are, their limits, and the page's server functions.

use crate::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The instance settings an admin can change. Each has a default and a range;
/// [`Settings::validate`] names the first field out of range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Shown in the console header and the browser title.
    pub instance_name: String,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, active or not.
    pub session_max_hours: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            instance_name: "MagFlock".into(),
            session_idle_minutes: 30,
            session_max_hours: 12,
        }
    }
}

pub const IDLE_MINUTES_RANGE: (u32, u32) = (5, 1440);
pub const MAX_HOURS_RANGE: (u32, u32) = (1, 720);

impl Settings {
    pub fn validate(&self) -> Result<(), AppError> {
        let name = self.instance_name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AppError::invalid(
                "instance_name",
                "Instance name must be 1 to 64 characters.",
            ));
        }
        let (lo, hi) = IDLE_MINUTES_RANGE;
        if !(lo..=hi).contains(&self.session_idle_minutes) {
            return Err(AppError::invalid(
                "session_idle_minutes",
                format!("Idle timeout must be between {lo} and {hi} minutes."),
            ));
        }
        let (lo, hi) = MAX_HOURS_RANGE;
        if !(lo..=hi).contains(&self.session_max_hours) {
            return Err(AppError::invalid(
                "session_max_hours",
                format!("Maximum session length must be between {lo} and {hi} hours."),
            ));
        }
        if u64::from(self.session_idle_minutes) > u64::from(self.session_max_hours) * 60 {
            return Err(AppError::invalid(
                "session_idle_minutes",
                "Idle timeout cannot be longer than the maximum session length.",
            ));
        }
        Ok(())
    }

    /// Reads stored key/value pairs; unknown keys are ignored, and a stored value
    /// that no longer parses falls back to its default (with the key returned so the
    /// caller can warn).
    pub fn from_pairs(pairs: &[(String, String)]) -> (Settings, Vec<String>) {
        let mut settings = Settings::default();
        let mut bad = Vec::new();
        for (key, value) in pairs {
            let ok = match key.as_str() {
                "instance_name" => {
                    settings.instance_name = value.clone();
                    true
                }
                "session_idle_minutes" => value
                    .parse()
                    .map(|v| settings.session_idle_minutes = v)
                    .is_ok(),
                "session_max_hours" => value
                    .parse()
                    .map(|v| settings.session_max_hours = v)
                    .is_ok(),
                _ => true,
            };
            if !ok {
                bad.push(key.clone());
            }
        }
        if settings.validate().is_err() {
            bad.push("settings".into());
            settings = Settings::default();
        }
        (settings, bad)
    }

    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("instance_name", self.instance_name.trim().to_string()),
            (
                "session_idle_minutes",
                self.session_idle_minutes.to_string(),
            ),
            ("session_max_hours", self.session_max_hours.to_string()),
        ]
    }
}

#[server(endpoint = "get_settings", output = crate::api::codec::Json)]
pub async fn get_settings() -> Result<Settings, AppError> {
    crate::server::respond(crate::server::settings::get().await)
}

#[server(endpoint = "update_settings", output = crate::api::codec::Json)]
pub async fn update_settings(
    instance_name: String,
    session_idle_minutes: u32,
    session_max_hours: u32,
) -> Result<Settings, AppError> {
    crate::server::respond(
        crate::server::settings::update(Settings {
            instance_name,
            session_idle_minutes,
            session_max_hours,
        })
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let mut s = Settings::default();
        assert!(s.validate().is_ok());
        s.session_idle_minutes = 2;
        assert_eq!(
            s.validate().unwrap_err().field(),
            Some("session_idle_minutes")
        );
        s = Settings {
            instance_name: " ".into(),
            ..Settings::default()
        };
        assert_eq!(s.validate().unwrap_err().field(), Some("instance_name"));
        s = Settings {
            session_max_hours: 1,
            session_idle_minutes: 90,
            ..Settings::default()
        };
        assert_eq!(
            s.validate().unwrap_err().field(),
            Some("session_idle_minutes")
        );
    }

    #[test]
    fn stored_pairs_round_trip_and_bad_values_fall_back() {
        let s = Settings {
            instance_name: "Acme".into(),
            session_idle_minutes: 45,
            session_max_hours: 8,
        };
        let pairs: Vec<_> = s
            .to_pairs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(Settings::from_pairs(&pairs), (s, vec![]));
        let (fallback, bad) = Settings::from_pairs(&[("session_max_hours".into(), "lots".into())]);
        assert_eq!(fallback.session_max_hours, 12);
        assert_eq!(bad, vec!["session_max_hours".to_string()]);
    }
}
