//! The WIT contract between the kernel and extensions, as data.
//!
//! Guarantees: every host interface of `magflock:extension@0.1.0` (the files in
//! `wit/v0.1.0/`) is listed here with the capability it needs, or none for the
//! two every extension has (`log`, `kv`). An import this table does not know is
//! refused at load, so a component can never reach a host function the
//! kernel has no policy for.

use crate::Capability;

/// The contract version this kernel serves (the WIT package version).
pub const WIT_VERSION: &str = "0.1.0";
/// The WIT package name, as it appears in component import names.
pub const WIT_PACKAGE: &str = "magflock:extension";

/// Host interfaces and the capability each needs (`None`: always available).
pub const HOST_INTERFACES: &[(&str, Option<Capability>)] = &[
    // Type definitions only; importing it reaches no host function.
    ("types", None),
    ("log", None),
    ("kv", None),
    ("database-read", Some(Capability::DatabaseRead)),
    ("database-write", Some(Capability::DatabaseWrite)),
    ("database-schema", Some(Capability::DatabaseSchema)),
    ("database-admin", Some(Capability::DatabaseAdmin)),
    ("api-endpoints", Some(Capability::ApiRegisterEndpoint)),
    ("events", Some(Capability::ApiEmitEvents)),
    ("ui-widgets", Some(Capability::UiRegisterWidget)),
    ("ui-panels", Some(Capability::UiRegisterPanel)),
    ("ui-schema", Some(Capability::UiModifySchema)),
    (
        "realtime-channels",
        Some(Capability::RealtimeRegisterChannel),
    ),
    ("realtime-broadcast", Some(Capability::RealtimeBroadcast)),
    ("auth-roles", Some(Capability::AuthModifyRoles)),
    ("auth-audit", Some(Capability::AuthAuditAccess)),
    ("network-outbound", Some(Capability::NetworkOutbound)),
    ("filesystem-temp", Some(Capability::FilesystemTempOnly)),
    ("filesystem-read", Some(Capability::FilesystemRead)),
    ("filesystem-write", Some(Capability::FilesystemWrite)),
    ("system-jobs", Some(Capability::SystemBackgroundJobs)),
    ("system-cron", Some(Capability::SystemCronSchedule)),
    ("system-metrics", Some(Capability::SystemMetrics)),
];

/// What a component import means to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// One of our interfaces; `Some` when it needs that capability.
    Host(Option<Capability>),
    /// WASI, which Rust's standard library always imports; linked with no
    /// files, sockets or environment.
    Wasi,
}

/// Classifies a component import name such as
/// `magflock:extension/database-read@0.1.0` or `wasi:cli/environment@0.2.6`.
/// `None` for anything else (another package, or an interface of ours this
/// kernel does not know, e.g. from a newer contract).
pub fn classify_import(name: &str) -> Option<ImportKind> {
    if name.starts_with("wasi:") {
        return Some(ImportKind::Wasi);
    }
    let rest = name.strip_prefix(WIT_PACKAGE)?.strip_prefix('/')?;
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    if !version.is_empty() && version != WIT_VERSION {
        return None;
    }
    HOST_INTERFACES
        .iter()
        .find(|(known, _)| *known == interface)
        .map(|(_, cap)| ImportKind::Host(*cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_map_to_their_capabilities() {
        assert_eq!(
            classify_import("magflock:extension/database-read@0.1.0"),
            Some(ImportKind::Host(Some(Capability::DatabaseRead)))
        );
        assert_eq!(
            classify_import("magflock:extension/log@0.1.0"),
            Some(ImportKind::Host(None))
        );
        assert_eq!(
            classify_import("wasi:cli/stdout@0.2.6"),
            Some(ImportKind::Wasi)
        );
        assert_eq!(classify_import("magflock:extension/teleport@0.1.0"), None);
        assert_eq!(classify_import("magflock:extension/log@9.0.0"), None);
        assert_eq!(classify_import("evil:pkg/thing"), None);
    }

    #[test]
    fn every_capability_interface_is_distinct() {
        let mut caps: Vec<_> = HOST_INTERFACES.iter().filter_map(|(_, c)| *c).collect();
        let before = caps.len();
        caps.sort();
        caps.dedup();
        assert_eq!(caps.len(), before, "two interfaces share a capability");
    }
}
