//! Signing and verifying a package's statement with ed25519.

use ed25519_dalek::{Signer, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyPair, TrustStore, fingerprint};
use crate::{Package, PackageError};

/// How far a package is trusted, from its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureLevel {
    Unsigned,
    VerifiedPublisher,
    FirstParty,
}

impl SignatureLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureLevel::Unsigned => "unsigned",
            SignatureLevel::VerifiedPublisher => "verified publisher",
            SignatureLevel::FirstParty => "first-party",
        }
    }
}

/// `SIGNATURE.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signer's key fingerprint (see [`crate::TrustedKey`]).
    pub key_id: String,
    /// The signed digest (SHA-256 of the statement), hex.
    pub digest: String,
    /// The ed25519 signature of the digest, hex.
    pub signature: String,
}

impl Signature {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
    pub fn from_json(bytes: &[u8]) -> Result<Signature, PackageError> {
        serde_json::from_slice(bytes)
            .map_err(|e| PackageError::Signature(format!("SIGNATURE.json is malformed: {e}")))
    }
}

/// A successful verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub level: SignatureLevel,
    /// The signer's key id, if signed.
    pub key_id: Option<String>,
    /// The statement's digest, hex.
    pub digest: String,
}

impl Package {
    /// Signs (or re-signs) the package with `key`.
    pub fn sign(&mut self, key: &KeyPair) {
        let digest = self.digest();
        let signature = key.signing.sign(&digest);
        self.signature = Some(Signature {
            key_id: fingerprint(&key.signing.verifying_key()),
            digest: hex::encode(digest),
            signature: hex::encode(signature.to_bytes()),
        });
    }

    /// Checks the signature against `trust`. `Unsigned` when there is none;
    /// an error when there is one that does not hold.
    pub fn verify(&self, trust: &TrustStore) -> Result<Verified, PackageError> {
        let digest = self.digest();
        let Some(signature) = &self.signature else {
            return Ok(Verified {
                level: SignatureLevel::Unsigned,
                key_id: None,
                digest: hex::encode(digest),
            });
        };
        if signature.digest != hex::encode(digest) {
            return Err(PackageError::Signature(
                "the package's contents or manifest changed after it was signed (digest mismatch)"
                    .into(),
            ));
        }
        let trusted = trust.get(&signature.key_id).ok_or_else(|| {
            PackageError::Signature(format!(
                "signed by key '{}', which is not in the trust store",
                signature.key_id
            ))
        })?;
        let bytes: [u8; 64] = hex::decode(&signature.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                PackageError::Signature("the signature is not 64 hex-encoded bytes".into())
            })?;
        let key: &VerifyingKey = &trusted.key;
        key.verify_strict(&digest, &ed25519_dalek::Signature::from_bytes(&bytes))
            .map_err(|_| {
                PackageError::Signature(format!(
                    "the signature does not verify with key '{}'",
                    signature.key_id
                ))
            })?;
        Ok(Verified {
            level: trusted.level,
            key_id: Some(signature.key_id.clone()),
            digest: hex::encode(digest),
        })
    }
}
