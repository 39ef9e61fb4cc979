//! The commands' work, each returning the text to print or one error line.

use magflock_package::{
    CATALOG_INDEX, CATALOG_SIGNATURE, COMPONENT, Catalog, CatalogEntry, KeyPair, Limits, MANIFEST,
    Package, SignatureLevel, TrustStore, TrustedKey,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Outcome = Result<String, String>;

fn at(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let temp = path.with_extension("mfx.partial");
    std::fs::write(&temp, bytes).map_err(|e| at(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| at(path, e))
}

fn read_package(path: &Path) -> Result<Package, String> {
    let bytes = std::fs::read(path).map_err(|e| at(path, e))?;
    Package::from_bytes(&bytes, Limits::default()).map_err(|e| at(path, e))
}

pub fn keys_generate(publisher: &str, out: &Path) -> Outcome {
    if publisher.is_empty()
        || !publisher
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!(
            "--publisher '{publisher}': use letters, digits and '-'"
        ));
    }
    let key = KeyPair::generate(publisher);
    let (secret, public) = key.write(out).map_err(|e| e.to_string())?;
    Ok(format!(
        "key {} for '{publisher}'\n  secret: {} (keep it private)\n  public: {} (give it to admins to trust)",
        key.key_id(),
        secret.display(),
        public.display()
    ))
}

/// Adds `dir`'s files (recursively) under `prefix`.
fn add_folder(
    files: &mut BTreeMap<String, Vec<u8>>,
    dir: &Path,
    prefix: &str,
) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| at(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| at(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type().map_err(|e| at(&path, e))?;
        if kind.is_symlink() {
            return Err(at(&path, "is a link; packages hold only regular files"));
        } else if kind.is_dir() {
            add_folder(files, &path, &name)?;
        } else {
            files.insert(name, std::fs::read(&path).map_err(|e| at(&path, e))?);
        }
    }
    Ok(())
}

pub fn pack(folder: &Path, wasm: Option<&Path>, out: Option<&Path>) -> Outcome {
    let mut files = BTreeMap::new();
    let manifest_path = folder.join(MANIFEST);
    files.insert(
        MANIFEST.to_string(),
        std::fs::read(&manifest_path).map_err(|e| at(&manifest_path, e))?,
    );
    let wasm_path = wasm
        .map(Path::to_path_buf)
        .unwrap_or_else(|| folder.join(COMPONENT));
    files.insert(
        COMPONENT.to_string(),
        std::fs::read(&wasm_path).map_err(|e| at(&wasm_path, e))?,
    );
    let readme = folder.join("README.md");
    if readme.is_file() {
        files.insert(
            "README.md".into(),
            std::fs::read(&readme).map_err(|e| at(&readme, e))?,
        );
    }
    for sub in ["migrations", "assets"] {
        let dir = folder.join(sub);
        if dir.is_dir() {
            add_folder(&mut files, &dir, sub)?;
        }
    }
    let package = Package::from_files(files).map_err(|e| at(folder, e))?;
    let manifest = package.manifest().map_err(|e| e.to_string())?;
    let out: PathBuf = out.map(Path::to_path_buf).unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}-{}.mfx",
            manifest.id.replace('/', "-"),
            manifest.version
        ))
    });
    let bytes = package.to_bytes().map_err(|e| e.to_string())?;
    write_atomically(&out, &bytes)?;
    Ok(format!(
        "packed {} {} ({} files, {} bytes, unsigned) into {}",
        manifest.id,
        manifest.version,
        package.files.len(),
        bytes.len(),
        out.display()
    ))
}

pub fn sign(path: &Path, key: &Path) -> Outcome {
    let mut package = read_package(path)?;
    let key = KeyPair::read(key).map_err(|e| e.to_string())?;
    package.sign(&key);
    let bytes = package.to_bytes().map_err(|e| e.to_string())?;
    write_atomically(path, &bytes)?;
    let digest = package
        .signature
        .as_ref()
        .map(|s| s.digest.clone())
        .unwrap_or_default();
    Ok(format!(
        "signed {} with key {} ({}); digest {digest}",
        path.display(),
        key.key_id(),
        key.publisher
    ))
}

pub fn verify(
    path: &Path,
    first_party: &[PathBuf],
    publishers: &[PathBuf],
    allow_unsigned: bool,
) -> Outcome {
    let package = read_package(path)?;
    let mut trust = TrustStore::new();
    for (files, level) in [
        (first_party, SignatureLevel::FirstParty),
        (publishers, SignatureLevel::VerifiedPublisher),
    ] {
        for file in files {
            trust.add(TrustedKey::read(file, level).map_err(|e| e.to_string())?);
        }
    }
    let verified = package.verify(&trust).map_err(|e| at(path, e))?;
    if verified.level == SignatureLevel::Unsigned && !allow_unsigned {
        return Err(at(
            path,
            "is not signed (use --allow-unsigned only for development)",
        ));
    }
    let manifest = package.manifest().map_err(|e| e.to_string())?;
    let capabilities: Vec<String> = manifest
        .capabilities
        .iter()
        .map(|c| c.capability.to_string())
        .collect();
    Ok(format!(
        "{}: {} {} by {}\n  signature: {}{}\n  digest: {}\n  kernel API: {}\n  capabilities: {}",
        path.display(),
        manifest.id,
        manifest.version,
        manifest.publisher,
        verified.level.as_str(),
        verified
            .key_id
            .map(|k| format!(" (key {k})"))
            .unwrap_or_default(),
        verified.digest,
        manifest.kernel_api,
        if capabilities.is_empty() {
            "none".into()
        } else {
            capabilities.join(", ")
        },
    ))
}

/// Lists every `.mfx` in `folder` (each must read back and carry a
/// signature) in a catalog signed with `key`: `index.json` and `index.sig`
/// beside the packages, each entry downloading from its file name.
pub fn catalog_build(folder: &Path, key: &Path, name: &str) -> Outcome {
    let key = KeyPair::read(key).map_err(|e| e.to_string())?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| at(folder, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "mfx"))
        .collect();
    files.sort();
    let mut entries = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| at(file, e))?;
        let package = Package::from_bytes(&bytes, Limits::default()).map_err(|e| at(file, e))?;
        if package.signature.is_none() {
            return Err(at(file, "is not signed; sign it before listing it"));
        }
        let download = file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| at(file, "the file name is not UTF-8"))?;
        entries
            .push(CatalogEntry::from_package(&package, &bytes, download).map_err(|e| at(file, e))?);
    }
    let catalog = Catalog {
        name: name.to_string(),
        generated_at: magflock_types::time::format_utc(now_millis()),
        entries,
    };
    let (index, signature) = catalog.to_signed(&key).map_err(|e| e.to_string())?;
    for (file, bytes) in [(CATALOG_INDEX, &index), (CATALOG_SIGNATURE, &signature)] {
        let path = folder.join(file);
        let temp = path.with_extension("partial");
        std::fs::write(&temp, bytes).map_err(|e| at(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| at(&path, e))?;
    }
    Ok(format!(
        "{}: catalog '{name}' lists {} package(s), signed with key {}",
        folder.display(),
        catalog.entries.len(),
        key.key_id()
    ))
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
