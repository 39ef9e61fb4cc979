//! The capability catalog: everything an extension may be allowed to do.
//!
//! Guarantees: the catalog is closed (an unknown name is an error, never a
//! silent no-op); every capability has a stable dotted name (`family.action`),
//! a plain-language description an admin can approve, and a risk level.

use std::fmt;
use std::str::FromStr;

/// How much harm a capability can do in the wrong hands; shown next to each
/// request in the approval prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

macro_rules! catalog {
    ($($variant:ident => $name:literal, $risk:ident, $describe:literal;)*) => {
        /// One capability of the catalog.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Capability {
            $($variant,)*
        }

        impl Capability {
            /// Every capability, in catalog order.
            pub const ALL: &'static [Capability] = &[$(Capability::$variant,)*];

            /// The dotted name used in manifests, grants and audit entries.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Capability::$variant => $name,)*
                }
            }

            pub fn risk(self) -> Risk {
                match self {
                    $(Capability::$variant => Risk::$risk,)*
                }
            }

            /// What granting it allows, in words for an admin.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Capability::$variant => $describe,)*
                }
            }
        }

        impl FromStr for Capability {
            type Err = UnknownCapability;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Capability::$variant),)*
                    _ => Err(UnknownCapability(s.to_string())),
                }
            }
        }
    };
}

catalog! {
    DatabaseRead => "database.read", Medium, "Read data with SELECT queries in project databases.";
    DatabaseWrite => "database.write", High, "Insert, update and delete rows in project databases.";
    DatabaseSchema => "database.schema", High, "Change table structure: CREATE, ALTER and DROP TABLE, CREATE INDEX, TRUNCATE.";
    DatabaseAdmin => "database.admin", Critical, "Create and drop databases, manage database users and row-level security policies, backups and restores.";
    ApiRegisterEndpoint => "api.register_endpoint", Medium, "Add new HTTP API endpoints under its own prefix.";
    ApiInterceptRequest => "api.intercept_request", High, "See and change requests and responses of other API routes.";
    ApiEmitEvents => "api.emit_events", Low, "Publish events to the event bus.";
    UiRegisterWidget => "ui.register_widget", Low, "Show widgets on the MagUI dashboard.";
    UiRegisterPanel => "ui.register_panel", Low, "Add full pages to the MagUI navigation.";
    UiModifySchema => "ui.modify_schema", Medium, "Extend the schema explorer with its own views.";
    RealtimeRegisterChannel => "realtime.register_channel", Medium, "Create WebSocket channels for clients.";
    RealtimeSubscribeEvents => "realtime.subscribe_events", Medium, "Receive platform events it is allowed to see.";
    RealtimeBroadcast => "realtime.broadcast", Medium, "Send messages to connected clients.";
    AuthRegisterProvider => "auth.register_provider", Critical, "Add sign-in providers (SSO, OpenID Connect, SAML).";
    AuthModifyRoles => "auth.modify_roles", Critical, "Define roles and refine permission decisions.";
    AuthAuditAccess => "auth.audit_access", High, "Read the audit log.";
    NetworkOutbound => "network.outbound", High, "Make HTTP requests to the listed hosts.";
    NetworkInbound => "network.inbound", Medium, "Receive webhooks from outside.";
    FilesystemRead => "filesystem.read", High, "Read files the platform gives it access to.";
    FilesystemWrite => "filesystem.write", High, "Write files the platform gives it access to.";
    FilesystemTempOnly => "filesystem.temp_only", Low, "Use a private temporary folder, emptied when it stops.";
    SystemBackgroundJobs => "system.background_jobs", Medium, "Queue background jobs.";
    SystemCronSchedule => "system.cron_schedule", Medium, "Run tasks on a schedule.";
    SystemMetrics => "system.metrics", Low, "Report its own metrics.";
}

impl Capability {
    /// The family: `database`, `api`, `ui`, `realtime`, `auth`, `network`,
    /// `filesystem` or `system`.
    pub fn family(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }

    /// Whether a grant of this capability carries parameters (today: the host
    /// allowlist of `network.outbound`).
    pub fn takes_hosts(self) -> bool {
        self == Capability::NetworkOutbound
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Capability {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A name that is not in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability '{0}'")]
pub struct UnknownCapability(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_specifications_24_capabilities_and_round_trips() {
        assert_eq!(Capability::ALL.len(), 24);
        for cap in Capability::ALL {
            assert_eq!(cap.as_str().parse::<Capability>(), Ok(*cap));
            assert!(!cap.describe().is_empty());
        }
        let families: std::collections::BTreeSet<_> =
            Capability::ALL.iter().map(|c| c.family()).collect();
        assert_eq!(families.len(), 8);
        assert_eq!(
            "database.drop"
                .parse::<Capability>()
                .unwrap_err()
                .to_string(),
            "unknown capability 'database.drop'"
        );
    }
}
