//! Extension packages: one `.mfx` file (a tar archive) holding the manifest
//! (`magflock.toml`), the component (`extension.wasm`), migrations
//! (`migrations/<name>.up.sql` / `.down.sql`), an optional `README.md` and
//! `assets/`, and, once signed, `SIGNATURE.json`.
//!
//! Guarantees:
//! * Reading never trusts the archive: only regular files under the known
//!   names, relative paths without `..`, no links or devices, no duplicates,
//!   at most [`Limits`] entries and bytes (each file and in total), checked
//!   before anything is kept; every refusal names the entry and the rule.
//! * The signed statement ([`Package::statement`]) contains the manifest's
//!   full text and every file's path, size and SHA-256, so changing the
//!   manifest (capabilities, hooks, contributions, API range) or any byte of
//!   any file breaks the signature.
//! * Verification ([`Package::verify`]) checks the signature strictly
//!   (ed25519 `verify_strict`) against a key in the [`TrustStore`] and
//!   reports the signature level; an unsigned package is reported as such and
//!   the caller decides (refused unless development mode allows it).
//! * [`Package::check_installable`] refuses a package whose kernel API range
//!   excludes this kernel, and any downgrade or reinstall of the same version.
//! * Marketplace catalogs ([`SignedCatalog`]) are accepted only when signed
//!   by a trusted key, with every entry well-formed; [`Resolver`] turns a
//!   wanted extension into an [`InstallPlan`] (dependencies first) or one
//!   clear refusal (see the `catalog` and `resolve` modules).

mod archive;
mod catalog;
mod compat;
mod error;
mod keys;
mod resolve;
mod signature;

pub use archive::{COMPONENT, Limits, MANIFEST, Package, SIGNATURE};
pub use catalog::{
    CATALOG_INDEX, CATALOG_SIGNATURE, Catalog, CatalogCapability, CatalogEntry, KernelMismatch,
    Query, SignedCatalog, search,
};
pub use error::PackageError;
pub use keys::{KeyPair, PublicKeyFile, SecretKeyFile, TrustStore, TrustedKey};
pub use resolve::{
    CapabilityUse, InstallPlan, PlanAction, PlanStep, Requirement, Requirer, Resolver,
    SatisfiedDependency, resolve,
};
pub use signature::{Signature, SignatureLevel, Verified};
