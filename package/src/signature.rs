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
    /// The stored form: `unsigned`, `verified_publisher`, `first_party`.
    pub fn code(self) -> &'static str {
        match self {
            SignatureLevel::Unsigned => "unsigned",
            SignatureLevel::VerifiedPublisher => "verified_publisher",
            SignatureLevel::FirstParty => "first_party",
        }
    }

    /// The level stored as `code` (see [`SignatureLevel::code`]).
    pub fn from_code(code: &str) -> Option<SignatureLevel> {
        [
            SignatureLevel::Unsigned,
            SignatureLevel::VerifiedPublisher,
            SignatureLevel::FirstParty,
        ]
        .into_iter()
        .find(|level| level.code() == code)
    }

    /// How people read it.
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

/// Signs `digest` with `key`.
pub(crate) fn sign_digest(key: &KeyPair, digest: &[u8; 32]) -> Signature {
    Signature {
        key_id: fingerprint(&key.signing.verifying_key()),
        digest: hex::encode(digest),
        signature: hex::encode(key.signing.sign(digest).to_bytes()),
    }
}

/// Why a signature does not hold.
pub(crate) enum SignatureProblem {
    /// The signed digest is not the digest of what was given.
    Changed,
    UnknownKey(String),
    NotHex,
    DoesNotVerify(String),
}

impl SignatureProblem {
    /// One sentence; `changed` describes a digest mismatch for the caller's subject.
    pub(crate) fn describe(&self, changed: &str) -> String {
        match self {
            SignatureProblem::Changed => changed.to_string(),
            SignatureProblem::UnknownKey(key_id) => {
                format!("signed by key '{key_id}', which is not in the trust store")
            }
            SignatureProblem::NotHex => "the signature is not 64 hex-encoded bytes".into(),
            SignatureProblem::DoesNotVerify(key_id) => {
                format!("the signature does not verify with key '{key_id}'")
            }
        }
    }
}

/// Checks `signature` over `digest` strictly against a key in `trust`.
pub(crate) fn check_signature(
    signature: &Signature,
    digest: &[u8; 32],
    trust: &TrustStore,
) -> Result<Verified, SignatureProblem> {
    if signature.digest != hex::encode(digest) {
        return Err(SignatureProblem::Changed);
    }
    let trusted = trust
        .get(&signature.key_id)
        .ok_or_else(|| SignatureProblem::UnknownKey(signature.key_id.clone()))?;
    let bytes: [u8; 64] = hex::decode(&signature.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureProblem::NotHex)?;
    let key: &VerifyingKey = &trusted.key;
    key.verify_strict(digest, &ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| SignatureProblem::DoesNotVerify(signature.key_id.clone()))?;
    Ok(Verified {
        level: trusted.level,
        key_id: Some(signature.key_id.clone()),
        digest: hex::encode(digest),
    })
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
        self.signature = Some(sign_digest(key, &self.digest()));
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
        check_signature(signature, &digest, trust).map_err(|problem| {
            PackageError::Signature(problem.describe(
                "the package's contents or manifest changed after it was signed (digest mismatch)",
            ))
        })
    }
}
