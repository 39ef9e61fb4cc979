//! `filesystem.*`: each extension's private folders. `temp_only` is
//! `<temp_root>/<id>/`, `read`/`write` are `<data_root>/<id>/`. Paths are
//! relative; absolute paths, `..` and symbolic links are refused, so nothing
//! outside the extension's folder can be named.

use magflock_kernel::Capability;
use std::path::{Component as PathPart, Path, PathBuf};

use crate::bindings::magflock::extension::{filesystem_read, filesystem_temp, filesystem_write};
use crate::state::HostState;

const MAX_FILE: u64 = 8 << 20;

/// The extension's folder under `root`, created on first use.
fn folder(root: &Path, extension: &str) -> Result<PathBuf, String> {
    let dir = root.join(extension.replace('/', "__"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot prepare the folder: {e}"))?;
    Ok(dir)
}

/// Resolves `path` inside `base`, refusing anything that could leave it.
fn resolve(base: &Path, path: &str) -> Result<PathBuf, String> {
    let relative = Path::new(path);
    let mut resolved = base.to_path_buf();
    for part in relative.components() {
        match part {
            PathPart::Normal(name) => {
                resolved.push(name);
                if resolved
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink())
                {
                    return Err(format!("'{path}' goes through a link"));
                }
            }
            PathPart::CurDir => {}
            _ => return Err(format!("'{path}' must be a relative path without '..'")),
        }
    }
    Ok(resolved)
}

fn read_file(base: &Path, path: &str) -> Result<Vec<u8>, String> {
    let file = resolve(base, path)?;
    let size = std::fs::metadata(&file)
        .map_err(|e| format!("'{path}': {e}"))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "'{path}' is {size} bytes, over the {MAX_FILE}-byte limit"
        ));
    }
    std::fs::read(&file).map_err(|e| format!("'{path}': {e}"))
}

fn write_file(base: &Path, path: &str, contents: &[u8]) -> Result<(), String> {
    if contents.len() as u64 > MAX_FILE {
        return Err(format!(
            "{} bytes is over the {MAX_FILE}-byte limit",
            contents.len()
        ));
    }
    let file = resolve(base, path)?;
    if file == base {
        return Err("a file name is needed".into());
    }
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("'{path}': {e}"))?;
    }
    std::fs::write(&file, contents).map_err(|e| format!("'{path}': {e}"))
}

fn remove_file(base: &Path, path: &str) -> Result<(), String> {
    let file = resolve(base, path)?;
    std::fs::remove_file(&file).map_err(|e| format!("'{path}': {e}"))
}

fn list_dir(base: &Path, dir: &str) -> Result<Vec<String>, String> {
    let dir_path = resolve(base, dir)?;
    let mut names: Vec<String> = std::fs::read_dir(&dir_path)
        .map_err(|e| format!("'{dir}': {e}"))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

impl HostState {
    fn temp_folder(&self) -> Result<PathBuf, String> {
        folder(&self.services.temp_root, &self.extension)
    }
    fn data_folder(&self) -> Result<PathBuf, String> {
        folder(&self.services.data_root, &self.extension)
    }
}

impl filesystem_temp::Host for HostState {
    fn read(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, String>> {
        self.allow(Capability::FilesystemTempOnly, "filesystem-temp.read")?;
        Ok(self.temp_folder().and_then(|base| read_file(&base, &path)))
    }
    fn write(&mut self, path: String, contents: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::FilesystemTempOnly, "filesystem-temp.write")?;
        Ok(self
            .temp_folder()
            .and_then(|base| write_file(&base, &path, &contents)))
    }
    fn remove(&mut self, path: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::FilesystemTempOnly, "filesystem-temp.remove")?;
        Ok(self
            .temp_folder()
            .and_then(|base| remove_file(&base, &path)))
    }
    fn list_dir(&mut self, dir: String) -> wasmtime::Result<Result<Vec<String>, String>> {
        self.allow(Capability::FilesystemTempOnly, "filesystem-temp.list-dir")?;
        Ok(self.temp_folder().and_then(|base| list_dir(&base, &dir)))
    }
}

impl filesystem_read::Host for HostState {
    fn read(&mut self, path: String) -> wasmtime::Result<Result<Vec<u8>, String>> {
        self.allow(Capability::FilesystemRead, "filesystem-read.read")?;
        Ok(self.data_folder().and_then(|base| read_file(&base, &path)))
    }
    fn list_dir(&mut self, dir: String) -> wasmtime::Result<Result<Vec<String>, String>> {
        self.allow(Capability::FilesystemRead, "filesystem-read.list-dir")?;
        Ok(self.data_folder().and_then(|base| list_dir(&base, &dir)))
    }
}

impl filesystem_write::Host for HostState {
    fn write(&mut self, path: String, contents: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::FilesystemWrite, "filesystem-write.write")?;
        Ok(self
            .data_folder()
            .and_then(|base| write_file(&base, &path, &contents)))
    }
    fn remove(&mut self, path: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::FilesystemWrite, "filesystem-write.remove")?;
        Ok(self
            .data_folder()
            .and_then(|base| remove_file(&base, &path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_folder() {
        let base = tempfile::tempdir().unwrap();
        assert!(resolve(base.path(), "../etc/passwd").is_err());
        assert!(resolve(base.path(), "/etc/passwd").is_err());
        assert!(resolve(base.path(), "a/../../b").is_err());
        assert_eq!(
            resolve(base.path(), "./a/b.txt").unwrap(),
            base.path().join("a/b.txt")
        );
        std::os::unix::fs::symlink("/etc", base.path().join("link")).unwrap();
        assert!(
            resolve(base.path(), "link/passwd")
                .unwrap_err()
                .contains("link")
        );
    }
}
