//! Marketplace catalogs: a signed index (`index.json` + `index.sig`) of
//! extension packages, searchable, with each entry's kernel compatibility.
//!
//! Guarantees:
//! * [`SignedCatalog::verify`] returns a catalog only when `index.sig` is an
//!   ed25519 signature (checked strictly) by a key in the [`TrustStore`] over
//!   exactly the bytes of `index.json`; the signed digest is domain-separated
//!   (`magflock-catalog-v1`) so a package signature can never pass for a
//!   catalog's. The index is parsed only after its signature holds.
//! * Every entry of a parsed catalog is well-formed: id `publisher/name`
//!   (lower-case slugs), a semantic version, semver requirements for the
//!   kernel API and each dependency (never on itself), edition `ce` or `pro`,
//!   unique lower-case category slugs, a download that is a relative path
//!   inside the catalog's location or an absolute http(s) URL, a SHA-256 of
//!   64 hex digits, a non-zero size; no (id, version) is listed twice. Every
//!   refusal names the file and the field (`entries[2].version`), or the line
//!   and column for malformed JSON. Unknown fields are ignored so that newer
//!   catalogs stay readable.
//! * [`CatalogEntry::from_package`] describes exactly the bytes given: they
//!   are read back as a package and must equal it (files and signature).
//! * [`Catalog::search`] returns one entry per extension, in id order: its
//!   newest stable version (a pre-release only when it has nothing else),
//!   chosen before the query's filters apply, among the versions the query's
//!   kernel can run when it names one.

use magflock_kernel::Edition;
use magflock_kernel::semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::signature::{check_signature, sign_digest};
use crate::{KeyPair, Limits, Package, PackageError, Signature, TrustStore, Verified};

/// The catalog's index file name.
pub const CATALOG_INDEX: &str = "index.json";
/// The file name of the index's signature (next to the index).
pub const CATALOG_SIGNATURE: &str = "index.sig";
/// Prefixed to the index bytes before hashing, separating catalog
/// signatures from package signatures.
const DOMAIN: &[u8] = b"magflock-catalog-v1\n";

/// A capability an extension requests, as the catalog shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogCapability {
    pub name: String,
    #[serde(default)]
    pub justification: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// One version of one extension in a catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EntryFile", into = "EntryFile")]
pub struct CatalogEntry {
    /// `publisher/name`.
    pub id: String,
    pub name: String,
    pub version: Version,
    /// The publisher's display name.
    pub publisher: String,
    pub description: String,
    pub categories: Vec<String>,
    pub capabilities: Vec<CatalogCapability>,
    /// The kernel API versions the extension runs on.
    pub kernel_api: VersionReq,
    /// Extension id → requirement.
    pub dependencies: BTreeMap<String, VersionReq>,
    pub edition: Edition,
    /// A path relative to the catalog's location, or an absolute http(s) URL.
    pub download: String,
    /// SHA-256 of the `.mfx` file, lower-case hex.
    pub sha256: String,
    /// Size of the `.mfx` file in bytes.
    pub size: u64,
    /// The key that signed the package, if signed.
    pub key_id: Option<String>,
}

/// An extension version whose kernel API range excludes a kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelMismatch {
    pub id: String,
    pub version: Version,
    /// What the extension accepts.
    pub kernel_api: VersionReq,
    /// What the kernel serves.
    pub kernel: Version,
}

impl std::fmt::Display for KernelMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{}' {} needs kernel API {}, this kernel is {}",
            self.id, self.version, self.kernel_api, self.kernel
        )
    }
}

/// A catalog: a named list of entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    pub name: String,
    /// When the index was generated (RFC 3339, informative).
    pub generated_at: String,
    pub entries: Vec<CatalogEntry>,
}

/// A catalog whose signature holds, with who signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCatalog {
    pub catalog: Catalog,
    pub verified: Verified,
}

/// What to look for; every given filter must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Words that must each appear in the id, name or description (any case).
    pub text: Option<String>,
    /// A category slug (any case).
    pub category: Option<String>,
    /// A capability name, e.g. `network.outbound`.
    pub capability: Option<String>,
    pub edition: Option<Edition>,
    /// Consider only versions that run on this kernel API version.
    pub kernel_api: Option<Version>,
}

// ---- the files as written --------------------------------------------------

#[derive(Serialize, Deserialize)]
struct CatalogFile {
    name: String,
    generated_at: String,
    entries: Vec<EntryFile>,
}

#[derive(Clone, Serialize, Deserialize)]
struct EntryFile {
    id: String,
    name: String,
    version: String,
    publisher: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    capabilities: Vec<CatalogCapability>,
    kernel_api: String,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    edition: String,
    download: String,
    sha256: String,
    size: u64,
    #[serde(default)]
    key_id: Option<String>,
}

/// A problem with one field of an entry.
struct FieldProblem {
    field: String,
    problem: String,
}

fn problem(field: impl Into<String>, problem: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        problem: problem.into(),
    }
}

fn catalog_error(file: &str, problem: impl Into<String>) -> PackageError {
    PackageError::Catalog {
        file: file.to_string(),
        problem: problem.into(),
    }
}

impl From<CatalogEntry> for EntryFile {
    fn from(entry: CatalogEntry) -> EntryFile {
        EntryFile {
            id: entry.id,
            name: entry.name,
            version: entry.version.to_string(),
            publisher: entry.publisher,
            description: entry.description,
            categories: entry.categories,
            capabilities: entry.capabilities,
            kernel_api: entry.kernel_api.to_string(),
            dependencies: entry
                .dependencies
                .into_iter()
                .map(|(id, req)| (id, req.to_string()))
                .collect(),
            edition: entry.edition.as_str().to_string(),
            download: entry.download,
            sha256: entry.sha256,
            size: entry.size,
            key_id: entry.key_id,
        }
    }
}

impl TryFrom<EntryFile> for CatalogEntry {
    type Error = String;
    fn try_from(file: EntryFile) -> Result<CatalogEntry, String> {
        entry_from_file(file).map_err(|p| format!("{}: {}", p.field, p.problem))
    }
}

// ---- field rules -------------------------------------------------------------

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `id` is `publisher/name` with both parts lower-case slugs.
pub(crate) fn is_extension_id(id: &str) -> bool {
    id.split_once('/')
        .is_some_and(|(publisher, name)| is_slug(publisher) && is_slug(name))
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn check_id(id: &str) -> Result<(), FieldProblem> {
    if is_extension_id(id) {
        Ok(())
    } else {
        Err(problem(
            "id",
            format!("'{id}' must look like publisher/name (lower-case letters, digits, '-')"),
        ))
    }
}

fn check_non_empty(value: &str, field: &str) -> Result<(), FieldProblem> {
    if value.trim().is_empty() {
        Err(problem(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn parse_version(text: &str) -> Result<Version, FieldProblem> {
    Version::parse(text).map_err(|e| {
        problem(
            "version",
            format!("'{text}' is not a semantic version: {e}"),
        )
    })
}

fn parse_req(text: &str, field: &str) -> Result<VersionReq, FieldProblem> {
    VersionReq::parse(text)
        .map_err(|e| problem(field, format!("'{text}' is not a version requirement: {e}")))
}

fn parse_dependencies(
    id: &str,
    raw: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, VersionReq>, FieldProblem> {
    let mut dependencies = BTreeMap::new();
    for (dep, req) in raw {
        let field = format!("dependencies.\"{dep}\"");
        if !is_extension_id(dep) {
            return Err(problem(
                field,
                format!("'{dep}' is not an extension id (publisher/name)"),
            ));
        }
        if dep == id {
            return Err(problem(field, "an extension cannot depend on itself"));
        }
        dependencies.insert(dep.clone(), parse_req(req, &field)?);
    }
    Ok(dependencies)
}

fn parse_edition(text: &str) -> Result<Edition, FieldProblem> {
    match text {
        "ce" => Ok(Edition::Community),
        "pro" => Ok(Edition::Pro),
        other => Err(problem(
            "edition",
            format!("'{other}' must be \"ce\" or \"pro\""),
        )),
    }
}

fn check_categories(categories: &[String]) -> Result<(), FieldProblem> {
    for (i, category) in categories.iter().enumerate() {
        let field = format!("categories[{i}]");
        if !is_slug(category) {
            return Err(problem(
                field,
                format!("'{category}' must be a lower-case slug (letters, digits, '-')"),
            ));
        }
        if categories[..i].contains(category) {
            return Err(problem(field, format!("'{category}' is listed twice")));
        }
    }
    Ok(())
}

fn check_capabilities(capabilities: &[CatalogCapability]) -> Result<(), FieldProblem> {
    for (i, capability) in capabilities.iter().enumerate() {
        check_non_empty(&capability.name, &format!("capabilities[{i}].name"))?;
    }
    Ok(())
}

fn absolute_url(download: &str) -> Option<&str> {
    download
        .strip_prefix("https://")
        .or_else(|| download.strip_prefix("http://"))
}

/// A download is an http(s) URL with a host, or a relative path that stays
/// inside the catalog's location: plain characters only (no '%', '?', '#'
/// or ':' that a URL parser could turn into `..`, a query or a scheme).
fn check_download(download: &str) -> Result<(), String> {
    if download
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "'{download}' must not contain spaces or control characters"
        ));
    }
    if let Some(rest) = absolute_url(download) {
        return match rest.split('/').next() {
            Some(host) if !host.is_empty() => Ok(()),
            _ => Err(format!("'{download}' has no host")),
        };
    }
    let plain = download
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c));
    let escapes = download
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..");
    if !plain || escapes {
        Err(format!(
            "'{download}' must be a relative path inside the catalog (letters, digits, '-', '_', '.', '~', '+' and '/'; no empty, '.' or '..' parts) or an http(s) URL"
        ))
    } else {
        Ok(())
    }
}

fn check_integrity(file: &EntryFile) -> Result<(), FieldProblem> {
    check_download(&file.download).map_err(|p| problem("download", p))?;
    if !is_hex(&file.sha256, 64) {
        return Err(problem("sha256", "must be 64 lower-case hex digits"));
    }
    if file.size == 0 {
        return Err(problem("size", "must be greater than 0"));
    }
    match &file.key_id {
        Some(key_id) if !is_hex(key_id, 32) => Err(problem(
            "key_id",
            format!("'{key_id}' is not a key id (32 lower-case hex digits)"),
        )),
        _ => Ok(()),
    }
}

fn entry_from_file(file: EntryFile) -> Result<CatalogEntry, FieldProblem> {
    check_id(&file.id)?;
    check_non_empty(&file.name, "name")?;
    check_non_empty(&file.publisher, "publisher")?;
    let version = parse_version(&file.version)?;
    let kernel_api = parse_req(&file.kernel_api, "kernel_api")?;
    let dependencies = parse_dependencies(&file.id, &file.dependencies)?;
    let edition = parse_edition(&file.edition)?;
    check_categories(&file.categories)?;
    check_capabilities(&file.capabilities)?;
    check_integrity(&file)?;
    Ok(CatalogEntry {
        id: file.id,
        name: file.name,
        version,
        publisher: file.publisher,
        description: file.description,
        categories: file.categories,
        capabilities: file.capabilities,
        kernel_api,
        dependencies,
        edition,
        download: file.download,
        sha256: file.sha256,
        size: file.size,
        key_id: file.key_id,
    })
}

// ---- entries -------------------------------------------------------------------

impl CatalogEntry {
    /// The entry for `package`, whose archive is `file_bytes`, to be fetched
    /// from `download`. Refuses bytes that are not this package.
    pub fn from_package(
        package: &Package,
        file_bytes: &[u8],
        download: &str,
    ) -> Result<CatalogEntry, PackageError> {
        let read_back = Package::from_bytes(file_bytes, Limits::default())?;
        if read_back != *package {
            return Err(PackageError::Malformed(
                "the file bytes given for the catalog entry are not this package (different files or signature)"
                    .into(),
            ));
        }
        check_download(download)
            .map_err(|p| catalog_error(CATALOG_INDEX, format!("download: {p}")))?;
        let manifest = package.manifest()?;
        Ok(CatalogEntry {
            id: manifest.id,
            name: manifest.name,
            version: manifest.version,
            publisher: manifest.publisher,
            description: manifest.description,
            categories: manifest.categories,
            capabilities: manifest
                .capabilities
                .into_iter()
                .map(|c| CatalogCapability {
                    name: c.capability.as_str().to_string(),
                    justification: c.justification,
                    hosts: c.hosts,
                })
                .collect(),
            kernel_api: manifest.kernel_api,
            dependencies: manifest.dependencies.into_iter().collect(),
            edition: manifest.edition,
            download: download.to_string(),
            sha256: hex::encode(Sha256::digest(file_bytes)),
            size: file_bytes.len() as u64,
            key_id: package.signature.as_ref().map(|s| s.key_id.clone()),
        })
    }

    /// Whether the extension runs on a kernel serving `kernel_api`.
    pub fn compatible_with(&self, kernel_api: &Version) -> bool {
        self.kernel_api.matches(kernel_api)
    }

    /// Why the extension does not run on a kernel serving `kernel_api`
    /// (its `Display` is one sentence); `None` when it does.
    pub fn incompatibility(&self, kernel_api: &Version) -> Option<KernelMismatch> {
        (!self.compatible_with(kernel_api)).then(|| KernelMismatch {
            id: self.id.clone(),
            version: self.version.clone(),
            kernel_api: self.kernel_api.clone(),
            kernel: kernel_api.clone(),
        })
    }

    pub fn requests(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c.name == capability)
    }

    /// Where to fetch the package: the download itself when it is an
    /// absolute URL, else joined to `base`, the catalog's location (the
    /// folder or URL `index.json` was read from).
    pub fn download_url(&self, base: &str) -> String {
        if absolute_url(&self.download).is_some() || base.is_empty() {
            return self.download.clone();
        }
        format!("{}/{}", base.trim_end_matches('/'), self.download)
    }

    /// Checks fetched bytes against the entry's size and SHA-256.
    pub fn verify_download(&self, bytes: &[u8]) -> Result<(), PackageError> {
        let refuse = |problem: String| PackageError::Download {
            id: self.id.clone(),
            version: self.version.clone(),
            problem,
        };
        if bytes.len() as u64 != self.size {
            return Err(refuse(format!(
                "{} bytes received, the catalog says {}",
                bytes.len(),
                self.size
            )));
        }
        let digest = hex::encode(Sha256::digest(bytes));
        if digest != self.sha256 {
            return Err(refuse(format!(
                "SHA-256 is {digest}, the catalog says {}",
                self.sha256
            )));
        }
        Ok(())
    }

    fn is_stable(&self) -> bool {
        self.version.pre.is_empty()
    }
}

/// Whether `candidate` is a better "newest" than `current`: stable beats
/// pre-release, then the higher version wins; ties keep `current`.
fn newer(candidate: &CatalogEntry, current: &CatalogEntry) -> bool {
    (candidate.is_stable(), &candidate.version) > (current.is_stable(), &current.version)
}

// ---- the catalog ----------------------------------------------------------------

impl Catalog {
    /// Parses and validates `index.json` without checking any signature
    /// (see [`SignedCatalog::verify`]).
    pub fn from_json(index: &[u8]) -> Result<Catalog, PackageError> {
        let file: CatalogFile = serde_json::from_slice(index)
            .map_err(|e| catalog_error(CATALOG_INDEX, format!("malformed JSON: {e}")))?;
        if file.name.trim().is_empty() {
            return Err(catalog_error(CATALOG_INDEX, "name: must not be empty"));
        }
        let mut entries = Vec::with_capacity(file.entries.len());
        for (i, raw) in file.entries.into_iter().enumerate() {
            let entry = entry_from_file(raw).map_err(|p| {
                catalog_error(
                    CATALOG_INDEX,
                    format!("entries[{i}].{}: {}", p.field, p.problem),
                )
            })?;
            entries.push(entry);
        }
        check_unique(&entries)?;
        Ok(Catalog {
            name: file.name,
            generated_at: file.generated_at,
            entries,
        })
    }

    /// The index as written (pretty JSON).
    pub fn to_json(&self) -> Vec<u8> {
        let file = CatalogFile {
            name: self.name.clone(),
            generated_at: self.generated_at.clone(),
            entries: self.entries.iter().cloned().map(EntryFile::from).collect(),
        };
        serde_json::to_vec_pretty(&file).expect("a catalog serializes to JSON")
    }

    /// `(index.json, index.sig)` signed with `key`. Refuses a catalog that
    /// [`Catalog::from_json`] would refuse, so what is signed verifies.
    pub fn to_signed(&self, key: &KeyPair) -> Result<(Vec<u8>, Vec<u8>), PackageError> {
        let index = self.to_json();
        Catalog::from_json(&index)?;
        let signature = SignedCatalog::sign_index(&index, key);
        Ok((index, signature))
    }

    /// One entry per extension matching `query` (see [`search`]).
    pub fn search(&self, query: &Query) -> Vec<&CatalogEntry> {
        search(&self.entries, query)
    }

    /// Every listed version of `id`, newest first.
    pub fn versions(&self, id: &str) -> Vec<&CatalogEntry> {
        let mut versions: Vec<&CatalogEntry> = self.entries.iter().filter(|e| e.id == id).collect();
        versions.sort_by(|a, b| b.version.cmp(&a.version));
        versions
    }
}

/// Refuses an (id, version) listed twice (build metadata aside).
fn check_unique(entries: &[CatalogEntry]) -> Result<(), PackageError> {
    for (i, entry) in entries.iter().enumerate() {
        let first = entries[..i].iter().position(|other| {
            other.id == entry.id && other.version.cmp_precedence(&entry.version) == Ordering::Equal
        });
        if let Some(first) = first {
            return Err(catalog_error(
                CATALOG_INDEX,
                format!(
                    "entries[{i}]: '{}' {} is listed twice (first at entries[{first}])",
                    entry.id, entry.version
                ),
            ));
        }
    }
    Ok(())
}

/// The digest signed for an index.
fn catalog_digest(index: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(index);
    hasher.finalize().into()
}

impl SignedCatalog {
    /// `index.sig` for `index` (the exact bytes of `index.json`).
    pub fn sign_index(index: &[u8], key: &KeyPair) -> Vec<u8> {
        sign_digest(key, &catalog_digest(index)).to_json()
    }

    /// Checks `signature` (`index.sig`) over `index` (`index.json`) against
    /// `trust`, then parses the index.
    pub fn verify(
        index: &[u8],
        signature: &[u8],
        trust: &TrustStore,
    ) -> Result<SignedCatalog, PackageError> {
        let signature: Signature = serde_json::from_slice(signature)
            .map_err(|e| catalog_error(CATALOG_SIGNATURE, format!("malformed JSON: {e}")))?;
        let verified =
            check_signature(&signature, &catalog_digest(index), trust).map_err(|problem| {
                PackageError::Signature(format!(
                    "{CATALOG_INDEX}: {}",
                    problem.describe("changed after it was signed (digest mismatch)")
                ))
            })?;
        let catalog = Catalog::from_json(index)?;
        Ok(SignedCatalog { catalog, verified })
    }
}

// ---- search -----------------------------------------------------------------------

impl Query {
    fn matches(&self, entry: &CatalogEntry) -> bool {
        self.text_matches(entry)
            && self.category.as_ref().is_none_or(|wanted| {
                entry
                    .categories
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(wanted))
            })
            && self
                .capability
                .as_ref()
                .is_none_or(|wanted| entry.requests(wanted))
            && self.edition.is_none_or(|wanted| entry.edition == wanted)
    }

    fn text_matches(&self, entry: &CatalogEntry) -> bool {
        let Some(text) = &self.text else {
            return true;
        };
        let haystack =
            format!("{}\n{}\n{}", entry.id, entry.name, entry.description).to_lowercase();
        text.to_lowercase()
            .split_whitespace()
            .all(|word| haystack.contains(word))
    }

    fn runs(&self, entry: &CatalogEntry) -> bool {
        self.kernel_api
            .as_ref()
            .is_none_or(|kernel| entry.compatible_with(kernel))
    }
}

/// The newest entry of each extension among `entries` (first listed wins a tie).
fn newest_per_extension<'a>(
    entries: impl IntoIterator<Item = &'a CatalogEntry>,
) -> BTreeMap<&'a str, &'a CatalogEntry> {
    let mut newest: BTreeMap<&str, &CatalogEntry> = BTreeMap::new();
    for entry in entries {
        let slot = newest.entry(entry.id.as_str()).or_insert(entry);
        if newer(entry, slot) {
            *slot = entry;
        }
    }
    newest
}

/// Searches `entries` (one catalog's, or several merged): for each extension
/// its newest version (among those the query's kernel runs, if given), kept
/// when it matches every filter of `query`; in id order.
pub fn search<'a>(
    entries: impl IntoIterator<Item = &'a CatalogEntry>,
    query: &Query,
) -> Vec<&'a CatalogEntry> {
    let runnable = entries.into_iter().filter(|e| query.runs(e));
    newest_per_extension(runnable)
        .into_values()
        .filter(|e| query.matches(e))
        .collect()
}
