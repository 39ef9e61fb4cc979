//! Whether a package may be installed here: its kernel API range must accept
//! this kernel's contract version, and it must not replace an installed
//! version with an older or equal one.

use magflock_kernel::contract::WIT_VERSION;
use magflock_kernel::semver::Version;

use crate::{Package, PackageError};

impl Package {
    /// Checks the package against this kernel and the installed version of the
    /// same extension (if any). Every refusal names both versions.
    pub fn check_installable(&self, installed: Option<&Version>) -> Result<(), PackageError> {
        let manifest = self.manifest()?;
        let kernel = Version::parse(WIT_VERSION).expect("the contract version is valid semver");
        if !manifest.kernel_api.matches(&kernel) {
            return Err(PackageError::Incompatible(format!(
                "{} {} needs kernel API {}, this kernel serves {kernel}",
                manifest.id, manifest.version, manifest.kernel_api
            )));
        }
        match installed {
            Some(current) if manifest.version < *current => {
                Err(PackageError::Incompatible(format!(
                    "{} {} is older than the installed {current}; downgrades are refused (roll back instead)",
                    manifest.id, manifest.version
                )))
            }
            Some(current) if manifest.version == *current => Err(PackageError::Incompatible(
                format!("{} {current} is already installed", manifest.id),
            )),
            _ => Ok(()),
        }
    }
}
