//! Where verified packages live on disk: `<root>/packages/<publisher>__<name>/<version>.mfx`
//! for installed versions (the serving one and the one kept for rollback) and
//! `<root>/staging/<request id>/` for packages waiting for approval.
//!
//! Guarantees: a file is written to a temporary name, synced and renamed, so
//! a reader (or a restart after a crash) sees the whole file or none; removing
//! something already gone is not an error (recovery repeats steps).

use std::path::{Path, PathBuf};

use crate::LifecycleError;

#[derive(Clone, Debug)]
pub struct PackageFiles {
    root: PathBuf,
}

/// The folder name of an extension id (`acme/stats` → `acme__stats`).
pub fn slug(extension: &str) -> String {
    extension.replace('/', "__")
}

impl PackageFiles {
    pub fn new(root: impl Into<PathBuf>) -> PackageFiles {
        PackageFiles { root: root.into() }
    }

    pub fn installed(&self, extension: &str, version: &str) -> PathBuf {
        self.root
            .join("packages")
            .join(slug(extension))
            .join(format!("{version}.mfx"))
    }

    pub fn extension_dir(&self, extension: &str) -> PathBuf {
        self.root.join("packages").join(slug(extension))
    }

    pub fn staging_dir(&self, request: &str) -> PathBuf {
        self.root.join("staging").join(request)
    }

    pub fn staged(&self, request: &str, extension: &str, version: &str) -> PathBuf {
        self.staging_dir(request)
            .join(format!("{}@{version}.mfx", slug(extension)))
    }

    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), LifecycleError> {
        use std::io::Write;
        let dir = path.parent().expect("package paths have a folder");
        std::fs::create_dir_all(dir).map_err(|e| LifecycleError::io(dir, e))?;
        let temp = path.with_extension("mfx.partial");
        let mut file = std::fs::File::create(&temp).map_err(|e| LifecycleError::io(&temp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| LifecycleError::io(&temp, e))?;
        std::fs::rename(&temp, path).map_err(|e| LifecycleError::io(path, e))?;
        if let Ok(folder) = std::fs::File::open(dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    }

    pub fn read(&self, path: &Path) -> Result<Vec<u8>, LifecycleError> {
        std::fs::read(path).map_err(|e| LifecycleError::io(path, e))
    }

    pub fn remove_file(&self, path: &Path) -> Result<(), LifecycleError> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LifecycleError::io(path, e)),
            _ => Ok(()),
        }
    }

    pub fn remove_dir(&self, path: &Path) -> Result<(), LifecycleError> {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LifecycleError::io(path, e)),
            _ => Ok(()),
        }
    }
}
