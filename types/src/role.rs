//! Admin roles and what each may do.
//!
//! Guarantees: the order is total (`Auditor < Admin < Owner`), and every
//! permission question in MagFlock is answered by one of the methods here, so the
//! server's checks and the UI's hiding of controls can never disagree.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A MagUI role. Ordered by power: an owner can do all an admin can, an admin
/// all an auditor can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only: sees dashboards, extensions and the audit log; changes nothing.
    Auditor,
    /// Manages extensions, users (except owners) and settings.
    Admin,
    /// Everything, including managing other owners.
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Auditor => "Auditor",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Role::Owner => "Full control, including other owners.",
            Role::Admin => "Manages extensions, users and settings; cannot change owners.",
            Role::Auditor => "Read-only access to dashboards, extensions and the audit log.",
        }
    }

    /// At least as powerful as `other`.
    pub fn at_least(self, other: Role) -> bool {
        self >= other
    }

    /// May this role change anything at all (users, settings, extensions)?
    pub fn can_manage(self) -> bool {
        self.at_least(Role::Admin)
    }

    /// May an actor with this role create, edit or assign an account of role `target`?
    /// Admins manage admins and auditors; only owners touch owners.
    pub fn can_administer(self, target: Role) -> bool {
        self.can_manage() && (self == Role::Owner || target != Role::Owner)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown role '{}' (expected owner, admin or auditor)",
            self.0
        )
    }
}

impl std::error::Error for UnknownRole {}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "auditor" => Ok(Role::Auditor),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_permissions() {
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(!Role::Auditor.can_manage());
        assert!(Role::Admin.can_administer(Role::Auditor));
        assert!(!Role::Admin.can_administer(Role::Owner));
        assert!(Role::Owner.can_administer(Role::Owner));
        assert!(!Role::Auditor.can_administer(Role::Auditor));
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        assert_eq!(
            "root".parse::<Role>().unwrap_err().to_string(),
            "unknown role 'root' (expected owner, admin or auditor)"
        );
    }
}
