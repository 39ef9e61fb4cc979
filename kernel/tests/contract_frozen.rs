//! A released WIT contract is frozen: `wit/v0.1.0/` must stay byte for byte
//! what extensions were built against. A change belongs in a new version
//! folder (with the host serving both), never in a released one.

use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// SHA-256 over each file's name and contents, in name order.
const V0_1_0: &str = "b40af68f3aa817ecbaa0ef4c7a12070c32792c35a76e845c42700b575f521406";

#[test]
fn the_released_contract_is_unchanged() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wit/v0.1.0");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in &files {
        hasher.update(file.file_name().unwrap().to_string_lossy().as_bytes());
        hasher.update(std::fs::read(file).unwrap());
    }
    let digest = hex::encode(hasher.finalize());
    assert_eq!(
        digest,
        V0_1_0,
        "wit/v0.1.0 ({} files) changed; it is released and frozen: put the change in a new version folder",
        files.len()
    );
    assert_eq!(magflock_kernel::contract::WIT_VERSION, "0.1.0");
}
