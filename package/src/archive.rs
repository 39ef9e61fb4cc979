//! The archive: building a package from its files and reading one safely.

use magflock_kernel::Manifest;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;

use crate::PackageError;
use crate::signature::Signature;

pub const MANIFEST: &str = "magflock.toml";
pub const COMPONENT: &str = "extension.wasm";
pub const SIGNATURE: &str = "SIGNATURE.json";
const README: &str = "README.md";

/// How much an archive may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000,
            max_file_bytes: 32 << 20,
            max_total_bytes: 64 << 20,
        }
    }
}

/// A package's files, in memory, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// Path → contents; never contains `SIGNATURE.json`.
    pub files: BTreeMap<String, Vec<u8>>,
    pub signature: Option<Signature>,
}

/// Whether `path` is a name a package may hold.
fn allowed_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.starts_with('/') || path.contains('\\') {
        return Err("must be a relative path".into());
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("must not contain '..', '.' or empty parts".into());
    }
    if path.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    let known = matches!(path, MANIFEST | COMPONENT | README | SIGNATURE)
        || (path.starts_with("migrations/")
            && path.matches('/').count() == 1
            && (path.ends_with(".up.sql") || path.ends_with(".down.sql")))
        || path.starts_with("assets/");
    if known {
        Ok(())
    } else {
        Err(format!(
            "is not part of the package format ({MANIFEST}, {COMPONENT}, {README}, migrations/<name>.up.sql|.down.sql, assets/…)"
        ))
    }
}

impl Package {
    /// A package from files (validated like an archive would be).
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Result<Package, PackageError> {
        for path in files.keys() {
            allowed_path(path).map_err(|problem| PackageError::Entry {
                entry: path.clone(),
                problem,
            })?;
            if path == SIGNATURE {
                return Err(PackageError::Entry {
                    entry: path.clone(),
                    problem: "is added by signing, not packed".into(),
                });
            }
        }
        let package = Package {
            files,
            signature: None,
        };
        package.manifest()?;
        if !package.files.contains_key(COMPONENT) {
            return Err(PackageError::Malformed(format!("{COMPONENT} is missing")));
        }
        Ok(package)
    }

    /// The manifest, parsed and validated (errors carry line and column).
    pub fn manifest(&self) -> Result<Manifest, PackageError> {
        let bytes = self
            .files
            .get(MANIFEST)
            .ok_or_else(|| PackageError::Malformed(format!("{MANIFEST} is missing")))?;
        let text = std::str::from_utf8(bytes).map_err(|e| PackageError::Entry {
            entry: MANIFEST.into(),
            problem: format!("is not UTF-8: {e}"),
        })?;
        Ok(Manifest::parse(text, MANIFEST)?)
    }

    pub fn component(&self) -> &[u8] {
        self.files
            .get(COMPONENT)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Migrations as `(name, up, down)`, in name order.
    pub fn migrations(&self) -> Vec<(String, String, Option<String>)> {
        self.files
            .iter()
            .filter_map(|(path, up)| {
                let name = path.strip_prefix("migrations/")?.strip_suffix(".up.sql")?;
                let down = self.files.get(&format!("migrations/{name}.down.sql"));
                Some((
                    name.to_string(),
                    String::from_utf8_lossy(up).into_owned(),
                    down.map(|d| String::from_utf8_lossy(d).into_owned()),
                ))
            })
            .collect()
    }

    /// What a signature covers: the manifest's full text, then every file's
    /// path, size and SHA-256 in path order.
    pub fn statement(&self) -> String {
        let manifest = self
            .files
            .get(MANIFEST)
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .unwrap_or_default();
        let mut statement = format!(
            "magflock-package-v1\nmanifest {}\n{manifest}\n",
            manifest.len()
        );
        for (path, contents) in &self.files {
            statement.push_str(&format!(
                "file {path} {} {}\n",
                contents.len(),
                hex::encode(Sha256::digest(contents))
            ));
        }
        statement
    }

    /// The SHA-256 of the statement: the digest that is signed.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.statement().as_bytes()).into()
    }

    /// Writes the archive (files in path order, then the signature if any).
    pub fn to_bytes(&self) -> Result<Vec<u8>, PackageError> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut append = |path: &str, contents: &[u8]| -> Result<(), PackageError> {
            let mut header = tar::Header::new_ustar();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, contents)?;
            Ok(())
        };
        for (path, contents) in &self.files {
            append(path, contents)?;
        }
        if let Some(signature) = &self.signature {
            append(SIGNATURE, &signature.to_json())?;
        }
        Ok(builder.into_inner()?)
    }

    /// Reads an archive under `limits`, refusing anything unsafe.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Package, PackageError> {
        let mut archive = tar::Archive::new(bytes);
        let mut files = BTreeMap::new();
        let mut signature = None;
        let mut total: u64 = 0;
        let mut count = 0usize;
        for entry in archive
            .entries()
            .map_err(|e| PackageError::Malformed(format!("not a package archive: {e}")))?
        {
            let mut entry = entry
                .map_err(|e| PackageError::Malformed(format!("not a package archive: {e}")))?;
            count += 1;
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let refuse = |problem: String| PackageError::Entry {
                entry: path.clone(),
                problem,
            };
            if count > limits.max_entries {
                return Err(refuse(format!(
                    "the package has more than {} entries",
                    limits.max_entries
                )));
            }
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                allowed_dir(&path).map_err(refuse)?;
                continue;
            }
            if !kind.is_file() {
                return Err(refuse(format!(
                    "is a {kind:?} entry; only regular files are allowed"
                )));
            }
            allowed_path(&path).map_err(refuse)?;
            let size = entry.header().size().map_err(|e| refuse(e.to_string()))?;
            if size > limits.max_file_bytes {
                return Err(refuse(format!(
                    "is {size} bytes, over the {}-byte limit per file",
                    limits.max_file_bytes
                )));
            }
            total = total.saturating_add(size);
            if total > limits.max_total_bytes {
                return Err(refuse(format!(
                    "the package unpacks to more than {} bytes",
                    limits.max_total_bytes
                )));
            }
            let mut contents = Vec::with_capacity(size as usize);
            (&mut entry).take(size + 1).read_to_end(&mut contents)?;
            if contents.len() as u64 != size {
                return Err(refuse("its size does not match its header".into()));
            }
            if path == SIGNATURE {
                if signature.is_some() {
                    return Err(refuse("appears twice".into()));
                }
                signature = Some(Signature::from_json(&contents)?);
                continue;
            }
            if files.insert(path.clone(), contents).is_some() {
                return Err(refuse("appears twice".into()));
            }
        }
        let mut package = Package::from_files(files)?;
        package.signature = signature;
        Ok(package)
    }
}

fn allowed_dir(path: &str) -> Result<(), String> {
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "migrations" | "assets" => Ok(()),
        _ if trimmed.starts_with("assets/") => allowed_path(trimmed),
        _ => Err("is a folder the package format does not have".into()),
    }
}
