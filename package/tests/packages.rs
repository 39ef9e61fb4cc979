//! Packages: pack, sign, verify; and every bad package refused with a clear
//! error: tampered file, manifest changed after signing, wrong or unknown
//! key, paths escaping the package, links, archive bombs, malformed manifest.

use magflock_package::{
    KeyPair, Limits, Package, PackageError, SignatureLevel, TrustStore, TrustedKey,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn manifest() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../extensions/steady/magflock.toml");
    std::fs::read(path).unwrap()
}

fn files() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        ("magflock.toml".to_string(), manifest()),
        (
            "extension.wasm".to_string(),
            b"\0asm\x0d\0\x01\0component bytes".to_vec(),
        ),
        (
            "migrations/0001_init.up.sql".to_string(),
            b"CREATE TABLE pings (n INTEGER);".to_vec(),
        ),
        (
            "migrations/0001_init.down.sql".to_string(),
            b"DROP TABLE pings;".to_vec(),
        ),
        ("README.md".to_string(), b"# Steady".to_vec()),
        ("assets/icon.svg".to_string(), b"<svg/>".to_vec()),
    ])
}

fn trust(key: &KeyPair, level: SignatureLevel) -> TrustStore {
    let mut store = TrustStore::new();
    store.add(TrustedKey::from_file(&key.public_file(), level).unwrap());
    store
}

fn signed() -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate("magflock");
    let mut package = Package::from_files(files()).unwrap();
    package.sign(&key);
    (package.to_bytes().unwrap(), key)
}

fn read(bytes: &[u8]) -> Result<Package, PackageError> {
    Package::from_bytes(bytes, Limits::default())
}

/// Rewrites one file's contents inside an archive, keeping everything else.
fn rewrite(bytes: &[u8], path: &str, contents: &[u8]) -> Vec<u8> {
    let mut archive = tar::Archive::new(bytes);
    let mut builder = tar::Builder::new(Vec::new());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        let data = if name == path {
            contents.to_vec()
        } else {
            data
        };
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, &name, data.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// An archive with one raw entry whose name and type are set byte by byte
/// (bypassing the tar writer's own path checks), after the good files.
fn with_raw_entry(name: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>) -> Vec<u8> {
    let package = Package::from_files(files()).unwrap();
    let good = package.to_bytes().unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(good.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        builder.append(&header, data.as_slice()).unwrap();
    }
    let mut header = tar::Header::new_old();
    let raw = &mut header.as_old_mut().name;
    raw[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(target) = link {
        header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, data).unwrap();
    builder.into_inner().unwrap()
}

#[test]
fn a_signed_package_round_trips_and_verifies_at_its_level() {
    let (bytes, key) = signed();
    let package = read(&bytes).unwrap();
    assert_eq!(package.files, files());
    assert_eq!(package.manifest().unwrap().id, "magflock/steady");
    assert_eq!(package.migrations().len(), 1);
    let verified = package
        .verify(&trust(&key, SignatureLevel::FirstParty))
        .unwrap();
    assert_eq!(verified.level, SignatureLevel::FirstParty);
    assert_eq!(verified.key_id, Some(key.key_id()));
    let verified = package
        .verify(&trust(&key, SignatureLevel::VerifiedPublisher))
        .unwrap();
    assert_eq!(verified.level, SignatureLevel::VerifiedPublisher);
}

#[test]
fn an_unsigned_package_reports_unsigned() {
    let package = Package::from_files(files()).unwrap();
    let bytes = package.to_bytes().unwrap();
    let verified = read(&bytes).unwrap().verify(&TrustStore::new()).unwrap();
    assert_eq!(verified.level, SignatureLevel::Unsigned);
}

#[test]
fn a_tampered_file_breaks_the_signature() {
    let (bytes, key) = signed();
    let tampered = rewrite(&bytes, "extension.wasm", b"\0asm evil");
    let err = read(&tampered)
        .unwrap()
        .verify(&trust(&key, SignatureLevel::FirstParty))
        .unwrap_err();
    assert!(
        err.to_string().contains("changed after it was signed"),
        "{err}"
    );
}

#[test]
fn a_manifest_changed_after_signing_breaks_the_signature() {
    let (bytes, key) = signed();
    let more = String::from_utf8(manifest()).unwrap().replacen(
        "[[hooks]]",
        "[[capabilities]]\nname = \"database.admin\"\njustification = \"sneaked in\"\n\n[[hooks]]",
        1,
    );
    let tampered = rewrite(&bytes, "magflock.toml", more.as_bytes());
    let package = read(&tampered).unwrap();
    assert!(
        package
            .manifest()
            .unwrap()
            .requests(magflock_kernel::Capability::DatabaseAdmin)
    );
    let err = package
        .verify(&trust(&key, SignatureLevel::FirstParty))
        .unwrap_err();
    assert!(
        err.to_string().contains("changed after it was signed"),
        "{err}"
    );
}

#[test]
fn a_wrong_or_unknown_key_is_refused() {
    let (bytes, _key) = signed();
    let other = KeyPair::generate("someone-else");
    let err = read(&bytes)
        .unwrap()
        .verify(&trust(&other, SignatureLevel::FirstParty))
        .unwrap_err();
    assert!(err.to_string().contains("not in the trust store"), "{err}");

    // A signature made by another key but claiming the trusted key's id.
    let (bytes, key) = signed();
    let mut package = read(&bytes).unwrap();
    package.sign(&other);
    let mut forged = package.signature.clone().unwrap();
    forged.key_id = key.key_id();
    package.signature = Some(forged);
    let err = package
        .verify(&trust(&key, SignatureLevel::FirstParty))
        .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn paths_that_escape_the_package_and_links_are_refused() {
    for (name, kind, link) in [
        ("../evil.sql", tar::EntryType::Regular, None),
        ("/etc/cron.d/evil", tar::EntryType::Regular, None),
        ("assets/../../evil", tar::EntryType::Regular, None),
        ("assets/link", tar::EntryType::Symlink, Some("/etc/passwd")),
        ("assets/hard", tar::EntryType::Link, Some("magflock.toml")),
        ("bin/tool", tar::EntryType::Regular, None),
    ] {
        let bytes = with_raw_entry(name, kind, b"x", link);
        let err = read(&bytes).unwrap_err();
        match &err {
            PackageError::Entry { entry, .. } => assert_eq!(entry, name, "{err}"),
            other => panic!("{name}: expected an entry error, got {other}"),
        }
    }
}

#[test]
fn archive_bombs_are_refused_by_entry_and_size_limits() {
    let (bytes, _) = signed();
    let tight = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let err = Package::from_bytes(&bytes, tight).unwrap_err().to_string();
    assert!(err.contains("more than 3 entries"), "{err}");
    let tight = Limits {
        max_file_bytes: 16,
        ..Limits::default()
    };
    let err = Package::from_bytes(&bytes, tight).unwrap_err().to_string();
    assert!(err.contains("over the 16-byte limit"), "{err}");
    let tight = Limits {
        max_total_bytes: 100,
        ..Limits::default()
    };
    let err = Package::from_bytes(&bytes, tight).unwrap_err().to_string();
    assert!(err.contains("more than 100 bytes"), "{err}");
    // A header claiming a huge file is refused before anything is read.
    let bomb = with_raw_entry("assets/huge.bin", tar::EntryType::Regular, b"", None);
    let mut bomb = bomb;
    let at = bomb.len() - 1024 - 512; // the raw entry's header (before the end blocks)
    let mut header = tar::Header::new_old();
    header.as_mut_bytes().copy_from_slice(&bomb[at..at + 512]);
    header.set_size(1 << 40);
    header.set_cksum();
    bomb[at..at + 512].copy_from_slice(header.as_bytes());
    let err = read(&bomb).unwrap_err().to_string();
    assert!(
        err.contains("assets/huge.bin") && err.contains("limit"),
        "{err}"
    );
}

#[test]
fn a_malformed_manifest_is_refused_with_its_line_and_column() {
    let mut bad = files();
    let text = String::from_utf8(manifest())
        .unwrap()
        .replace("version = \"1.0.0\"", "version = \"one\"");
    bad.insert("magflock.toml".into(), text.into_bytes());
    let err = Package::from_files(bad).unwrap_err().to_string();
    assert!(
        err.contains("magflock.toml:4:") && err.contains("extension.version"),
        "{err}"
    );
    let mut missing = files();
    missing.remove("extension.wasm");
    let err = Package::from_files(missing).unwrap_err().to_string();
    assert!(err.contains("extension.wasm is missing"), "{err}");
}

#[test]
fn key_files_round_trip_and_secrets_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate("acme");
    let (secret, public) = key.write(dir.path()).unwrap();
    let back = KeyPair::read(&secret).unwrap();
    assert_eq!(back.key_id(), key.key_id());
    let trusted = TrustedKey::read(&public, SignatureLevel::VerifiedPublisher).unwrap();
    assert_eq!(trusted.publisher, "acme");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        key.write(dir.path()).is_err(),
        "never overwrites a secret key"
    );
}

#[test]
fn downgrades_reinstalls_and_other_kernel_apis_are_refused() {
    use magflock_kernel::semver::Version;
    let package = Package::from_files(files()).unwrap();
    assert!(package.check_installable(None).is_ok());
    assert!(
        package
            .check_installable(Some(&Version::new(0, 9, 0)))
            .is_ok(),
        "an upgrade"
    );
    let err = package
        .check_installable(Some(&Version::new(1, 2, 0)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("1.0.0") && err.contains("1.2.0") && err.contains("downgrade"),
        "{err}"
    );
    let err = package
        .check_installable(Some(&Version::new(1, 0, 0)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("already installed"), "{err}");

    let mut future = files();
    let text = String::from_utf8(manifest())
        .unwrap()
        .replace("kernel_api = \"^0.1\"", "kernel_api = \"^2\"");
    future.insert("magflock.toml".into(), text.into_bytes());
    let err = Package::from_files(future)
        .unwrap()
        .check_installable(None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("needs kernel API ^2") && err.contains("0.1.0"),
        "{err}"
    );
}
