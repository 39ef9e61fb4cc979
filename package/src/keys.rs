//! Signing keys and the trust store.
//!
//! Guarantees: a key id is the fingerprint of the public key (the first 16
//! bytes of its SHA-256, hex), so an id cannot be claimed by another key;
//! secret key files are written readable by their owner only.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

use crate::{PackageError, SignatureLevel};

pub fn fingerprint(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// A publisher's signing key.
pub struct KeyPair {
    pub publisher: String,
    pub signing: SigningKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyFile {
    pub kind: String,
    pub publisher: String,
    pub key_id: String,
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyFile {
    pub kind: String,
    pub publisher: String,
    pub key_id: String,
    pub public: String,
}

const SECRET_KIND: &str = "magflock-ed25519-secret-key";
const PUBLIC_KIND: &str = "magflock-ed25519-public-key";

fn key_error(file: &Path, problem: impl Into<String>) -> PackageError {
    PackageError::Key {
        file: file.display().to_string(),
        problem: problem.into(),
    }
}

impl KeyPair {
    pub fn generate(publisher: &str) -> KeyPair {
        KeyPair {
            publisher: publisher.to_string(),
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    pub fn key_id(&self) -> String {
        fingerprint(&self.signing.verifying_key())
    }

    pub fn public_file(&self) -> PublicKeyFile {
        PublicKeyFile {
            kind: PUBLIC_KIND.into(),
            publisher: self.publisher.clone(),
            key_id: self.key_id(),
            public: hex::encode(self.signing.verifying_key().as_bytes()),
        }
    }

    /// Writes `<dir>/<publisher>.secret.json` (mode 0600) and
    /// `<dir>/<publisher>.public.json`; refuses to overwrite a secret key.
    pub fn write(
        &self,
        dir: &Path,
    ) -> Result<(std::path::PathBuf, std::path::PathBuf), PackageError> {
        std::fs::create_dir_all(dir)?;
        let secret_path = dir.join(format!("{}.secret.json", self.publisher));
        let public_path = dir.join(format!("{}.public.json", self.publisher));
        if secret_path.exists() {
            return Err(key_error(
                &secret_path,
                "already exists; refusing to overwrite a secret key",
            ));
        }
        let secret = SecretKeyFile {
            kind: SECRET_KIND.into(),
            publisher: self.publisher.clone(),
            key_id: self.key_id(),
            secret: hex::encode(self.signing.to_bytes()),
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        use std::io::Write;
        options
            .open(&secret_path)?
            .write_all(&serde_json::to_vec_pretty(&secret).unwrap_or_default())?;
        std::fs::write(
            &public_path,
            serde_json::to_vec_pretty(&self.public_file()).unwrap_or_default(),
        )?;
        Ok((secret_path, public_path))
    }

    pub fn read(file: &Path) -> Result<KeyPair, PackageError> {
        let bytes = std::fs::read(file).map_err(|e| key_error(file, e.to_string()))?;
        let parsed: SecretKeyFile =
            serde_json::from_slice(&bytes).map_err(|e| key_error(file, e.to_string()))?;
        if parsed.kind != SECRET_KIND {
            return Err(key_error(
                file,
                format!("kind is '{}', expected '{SECRET_KIND}'", parsed.kind),
            ));
        }
        let secret: [u8; 32] = hex::decode(&parsed.secret)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| key_error(file, "secret: not 32 hex-encoded bytes"))?;
        let pair = KeyPair {
            publisher: parsed.publisher,
            signing: SigningKey::from_bytes(&secret),
        };
        if pair.key_id() != parsed.key_id {
            return Err(key_error(file, "key_id does not match the key"));
        }
        Ok(pair)
    }
}

/// A public key the platform trusts, at a level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    pub publisher: String,
    pub key: VerifyingKey,
    pub level: SignatureLevel,
}

impl TrustedKey {
    pub fn read(file: &Path, level: SignatureLevel) -> Result<TrustedKey, PackageError> {
        let bytes = std::fs::read(file).map_err(|e| key_error(file, e.to_string()))?;
        let parsed: PublicKeyFile =
            serde_json::from_slice(&bytes).map_err(|e| key_error(file, e.to_string()))?;
        TrustedKey::from_file(&parsed, level).map_err(|problem| key_error(file, problem))
    }

    pub fn from_file(parsed: &PublicKeyFile, level: SignatureLevel) -> Result<TrustedKey, String> {
        if parsed.kind != PUBLIC_KIND {
            return Err(format!(
                "kind is '{}', expected '{PUBLIC_KIND}'",
                parsed.kind
            ));
        }
        let bytes: [u8; 32] = hex::decode(&parsed.public)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("public: not 32 hex-encoded bytes")?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("public: {e}"))?;
        if fingerprint(&key) != parsed.key_id {
            return Err("key_id does not match the key".into());
        }
        Ok(TrustedKey {
            publisher: parsed.publisher.clone(),
            key,
            level,
        })
    }
}

/// The keys packages may be signed with, by key id.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    keys: BTreeMap<String, TrustedKey>,
}

impl TrustStore {
    pub fn new() -> TrustStore {
        TrustStore::default()
    }
    pub fn add(&mut self, key: TrustedKey) {
        self.keys.insert(fingerprint(&key.key), key);
    }
    pub fn get(&self, key_id: &str) -> Option<&TrustedKey> {
        self.keys.get(key_id)
    }
    pub fn keys(&self) -> impl Iterator<Item = (&String, &TrustedKey)> {
        self.keys.iter()
    }
}

impl TrustedKey {
    /// A key as stored in the control-plane database (hex public key).
    pub fn from_parts(
        publisher: &str,
        public_hex: &str,
        level: SignatureLevel,
    ) -> Result<TrustedKey, String> {
        let bytes: [u8; 32] = hex::decode(public_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("public key: not 32 hex-encoded bytes")?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("public key: {e}"))?;
        Ok(TrustedKey {
            publisher: publisher.to_string(),
            key,
            level,
        })
    }

    pub fn key_id(&self) -> String {
        fingerprint(&self.key)
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }
}
