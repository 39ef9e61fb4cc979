//! The author's flow through the real `mag` binary: generate a key, pack the
//! steady extension, sign, verify; a tampered package fails verification
//! with exit status 1 and a one-line reason.

use std::path::{Path, PathBuf};
use std::process::Command;

fn mag(args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mag"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn steady() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../extensions/steady")
}

#[test]
fn generate_pack_sign_verify_and_refuse_a_tampered_package() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::write(work.join("steady.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    let steady = steady();
    let steady = steady.to_str().unwrap();

    let (ok, out, err) = mag(
        &["keys:generate", "--publisher", "magflock", "--out", "keys"],
        work,
    );
    assert!(ok, "{err}");
    assert!(out.contains("magflock.secret.json"), "{out}");

    let (ok, out, err) = mag(
        &[
            "extension:pack",
            steady,
            "--wasm",
            "steady.wasm",
            "--out",
            "steady.mfx",
        ],
        work,
    );
    assert!(ok, "{err}");
    assert!(out.contains("packed magflock/steady 1.0.0"), "{out}");

    let (ok, _, err) = mag(
        &[
            "extension:verify",
            "steady.mfx",
            "--first-party",
            "keys/magflock.public.json",
        ],
        work,
    );
    assert!(!ok);
    assert!(err.contains("is not signed"), "{err}");

    let (ok, out, err) = mag(
        &[
            "extension:sign",
            "steady.mfx",
            "--key",
            "keys/magflock.secret.json",
        ],
        work,
    );
    assert!(ok, "{err}");
    assert!(out.contains("signed steady.mfx"), "{out}");

    let (ok, out, err) = mag(
        &[
            "extension:verify",
            "steady.mfx",
            "--first-party",
            "keys/magflock.public.json",
        ],
        work,
    );
    assert!(ok, "{err}");
    assert!(out.contains("signature: first-party"), "{out}");
    assert!(out.contains("system.metrics"), "{out}");

    // Flip one byte of the component inside the archive.
    let mut bytes = std::fs::read(work.join("steady.mfx")).unwrap();
    let at = bytes.windows(4).position(|w| w == b"\0asm").unwrap();
    bytes[at + 5] ^= 1;
    std::fs::write(work.join("steady.mfx"), &bytes).unwrap();
    let (ok, _, err) = mag(
        &[
            "extension:verify",
            "steady.mfx",
            "--first-party",
            "keys/magflock.public.json",
        ],
        work,
    );
    assert!(!ok);
    assert!(err.contains("changed after it was signed"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
