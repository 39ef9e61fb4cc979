//! The Marketplace from MagUI: searching the catalogs, one extension's
//! detail (with its README read from the package the catalog lists), and the
//! install request.
//!
//! Guarantees: every function checks the caller's role first (reading:
//! any role; requesting an install: admin or owner); an install request goes
//! through the lifecycle manager as the calling user, who checks the package
//! (signature, trust, format, kernel API, dependencies) and audits the
//! request; nothing is installed here, it waits in the approvals queue. A
//! catalog that cannot be read is reported as a problem next to what the
//! others list. The README is only read from a package whose size and
//! SHA-256 match its signed catalog entry, and travels as text (the page
//! renders a safe subset of Markdown; no HTML from a package reaches the
//! browser).

use super::console::{capitalised, console, lifecycle_error};
use super::guard::{Caller, require};
use crate::AppError;
use crate::api::marketplace::{
    CapabilityInfo, CatalogResults, DependencyInfo, InstallRequested, ListingDetail,
    ListingSummary, RiskLevel, SignatureBadge, VersionInfo,
};
use magflock_kernel::audit::Actor;
use magflock_kernel::contract::WIT_VERSION;
use magflock_kernel::lifecycle_store::RequestStatus;
use magflock_kernel::semver::VersionReq;
use magflock_kernel::{Capability, Edition, Risk};
use magflock_lifecycle::{CatalogView, Lifecycle, Listing, Plan};
use magflock_package::{Package, Query};
use magflock_types::Role;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

/// Longest search text accepted (the words of a search box).
const MAX_QUERY_CHARS: usize = 200;
/// A README longer than this is not shown.
const MAX_README_BYTES: usize = 256 * 1024;
/// Packages whose README and licence are remembered (by SHA-256).
const README_CACHE_ENTRIES: usize = 64;

/// The kernel's audit actor for the calling user (the lifecycle manager
/// records its operations with it).
pub fn acting(caller: &Caller) -> Actor {
    Actor::user(&caller.user.id, &caller.user.email)
}

pub fn risk_level(risk: Risk) -> RiskLevel {
    match risk {
        Risk::Low => RiskLevel::Low,
        Risk::Medium => RiskLevel::Medium,
        Risk::High => RiskLevel::High,
        Risk::Critical => RiskLevel::Critical,
    }
}

/// A requested capability explained: the kernel's plain-language text and
/// risk. A name this kernel does not know is rated critical and says so.
pub fn capability_info(name: &str, justification: &str, hosts: &[String]) -> CapabilityInfo {
    let (description, risk) = match name.parse::<Capability>() {
        Ok(capability) => (
            capability.describe().to_string(),
            risk_level(capability.risk()),
        ),
        Err(_) => (
            "A capability this version of MagFlock does not know; it cannot be granted."
                .to_string(),
            RiskLevel::Critical,
        ),
    };
    CapabilityInfo {
        name: name.to_string(),
        description,
        risk,
        justification: justification.trim().to_string(),
        hosts: hosts.to_vec(),
    }
}

/// The badge for a trust level code as the lifecycle reports it
/// (`first_party`, `verified_publisher`, anything else: not trusted here),
/// and whether the package is signed at all.
pub fn signature_badge(level: Option<&str>, signed: bool) -> SignatureBadge {
    match level {
        Some("first_party") => SignatureBadge::FirstParty,
        Some("verified_publisher") => SignatureBadge::VerifiedPublisher,
        _ if signed => SignatureBadge::Community,
        _ => SignatureBadge::Unsigned,
    }
}

fn listing_badge(listing: &Listing) -> SignatureBadge {
    signature_badge(
        listing.signature_level.as_deref(),
        listing.entry.key_id.is_some(),
    )
}

fn summary(listing: &Listing) -> ListingSummary {
    let entry = &listing.entry;
    let capabilities: Vec<String> = entry.capabilities.iter().map(|c| c.name.clone()).collect();
    let highest_risk = entry
        .capabilities
        .iter()
        .map(|c| capability_info(&c.name, "", &[]).risk)
        .max();
    ListingSummary {
        id: entry.id.clone(),
        name: entry.name.clone(),
        publisher: entry.publisher.clone(),
        version: entry.version.to_string(),
        description: entry.description.clone(),
        categories: entry.categories.clone(),
        edition: entry.edition.as_str().to_string(),
        signature: listing_badge(listing),
        installed: listing.installed.clone(),
        incompatible: listing.incompatible.as_deref().map(capitalised),
        capabilities,
        highest_risk,
    }
}

/// A filter value as typed: trimmed, `None` when empty.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn parse_edition(text: &str) -> Result<Edition, AppError> {
    [Edition::Community, Edition::Pro]
        .into_iter()
        .find(|e| e.as_str().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            AppError::invalid(
                "edition",
                format!("Edition '{text}' is not ce (Community) or pro."),
            )
        })
}

pub async fn search(
    q: Option<String>,
    category: Option<String>,
    capability: Option<String>,
    signature: Option<String>,
    edition: Option<String>,
) -> Result<CatalogResults, AppError> {
    require(Role::Auditor).await?;
    let text = given(q);
    if text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_QUERY_CHARS)
    {
        return Err(AppError::invalid(
            "q",
            format!("Search for at most {MAX_QUERY_CHARS} characters."),
        ));
    }
    let edition = given(edition).as_deref().map(parse_edition).transpose()?;
    let signature = match given(signature) {
        None => None,
        Some(code) => Some(SignatureBadge::parse(&code).ok_or_else(|| {
            AppError::invalid(
                "signature",
                format!(
                    "Signature '{code}' is not first_party, verified_publisher, community or unsigned."
                ),
            )
        })?),
    };
    let console = console()?;
    let view = console.lifecycle.catalog().await.map_err(lifecycle_error)?;
    let everything = view.search(&Query::default());
    let categories: BTreeSet<String> = everything
        .iter()
        .flat_map(|l| l.entry.categories.iter().cloned())
        .collect();
    let query = Query {
        text,
        category: given(category),
        capability: given(capability),
        edition,
        kernel_api: None,
    };
    let listings = view
        .search(&query)
        .into_iter()
        .filter(|l| signature.is_none_or(|wanted| listing_badge(l) == wanted))
        .map(summary)
        .collect();
    Ok(CatalogResults {
        listings,
        problems: view.problems.iter().map(|p| capitalised(p)).collect(),
        categories: categories.into_iter().collect(),
        capabilities: Capability::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), c.describe().to_string()))
            .collect(),
        total: everything.len(),
    })
}

/// The listing a card shows for `id`: its newest version as search picks it.
fn newest<'a>(view: &'a CatalogView, id: &str) -> Option<&'a Listing> {
    view.search(&Query::default())
        .into_iter()
        .find(|l| l.entry.id == id)
        .or_else(|| view.versions(id).into_iter().next())
}

fn not_listed(id: &str) -> AppError {
    AppError::NotFound(format!(
        "{id} is not listed in any catalog this instance can read."
    ))
}

pub async fn listing(id: String, version: Option<String>) -> Result<ListingDetail, AppError> {
    require(Role::Auditor).await?;
    let id = id.trim().to_string();
    let console = console()?;
    let lifecycle = &console.lifecycle;
    let view = lifecycle.catalog().await.map_err(lifecycle_error)?;
    let newest_listing = newest(&view, &id).ok_or_else(|| not_listed(&id))?;
    let chosen = match given(version) {
        None => newest_listing,
        Some(wanted) => view
            .versions(&id)
            .into_iter()
            .find(|l| l.entry.version.to_string() == wanted)
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "{id} {wanted} is not listed in any catalog this instance can read."
                ))
            })?,
    };
    let entry = &chosen.entry;
    let mut dependencies = Vec::new();
    for (dependency, requirement) in &entry.dependencies {
        let listed = view.versions(dependency);
        let installed = match listed.first().and_then(|l| l.installed.clone()) {
            Some(version) => Some(version),
            None => lifecycle
                .extension(dependency)
                .await
                .ok()
                .map(|e| e.version),
        };
        dependencies.push(DependencyInfo {
            id: dependency.clone(),
            requirement: requirement.to_string(),
            installed,
            available: listed
                .iter()
                .find(|l| requirement.matches(&l.entry.version))
                .map(|l| l.entry.version.to_string()),
        });
    }
    let pending_request = pending_request_for(lifecycle, &id).await?;
    let (text, readme_problem) = match package_text(lifecycle, chosen).await {
        Ok(text) => (text, None),
        Err(problem) => (PackageText::default(), Some(problem)),
    };
    let readme_problem = readme_problem.or_else(|| text.readme_problem.clone());
    Ok(ListingDetail {
        summary: summary(chosen),
        capabilities: entry
            .capabilities
            .iter()
            .map(|c| capability_info(&c.name, &c.justification, &c.hosts))
            .collect(),
        kernel_api: entry.kernel_api.to_string(),
        kernel: WIT_VERSION.to_string(),
        dependencies,
        versions: view
            .versions(&id)
            .into_iter()
            .map(|l| VersionInfo {
                version: l.entry.version.to_string(),
                signature: listing_badge(l),
                incompatible: l.incompatible.as_deref().map(capitalised),
                source: l.source.describe(),
            })
            .collect(),
        newest: newest_listing.entry.version.to_string(),
        source: chosen.source.describe(),
        key_id: entry.key_id.clone(),
        size: entry.size,
        sha256: entry.sha256.clone(),
        license: text.license,
        readme: text.readme,
        readme_problem,
        pending_request,
        problems: view.problems.iter().map(|p| capitalised(p)).collect(),
    })
}

/// The pending request whose plan includes `id`, if any.
pub async fn pending_request_for(
    lifecycle: &Lifecycle,
    id: &str,
) -> Result<Option<String>, AppError> {
    let pending = lifecycle
        .requests(Some(RequestStatus::Pending))
        .await
        .map_err(lifecycle_error)?;
    Ok(pending
        .into_iter()
        .find(|r| {
            r.extension == id
                || serde_json::from_str::<Plan>(&r.plan)
                    .is_ok_and(|p| p.items.iter().any(|i| i.extension == id))
        })
        .map(|r| r.id))
}

/// What the detail page reads from a package besides the catalog entry.
#[derive(Clone, Debug, Default)]
struct PackageText {
    readme: Option<String>,
    readme_problem: Option<String>,
    license: Option<String>,
}

fn readme_cache() -> &'static Mutex<HashMap<String, PackageText>> {
    static CACHE: OnceLock<Mutex<HashMap<String, PackageText>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The README and licence of a listing's package, fetched (and checked
/// against the entry's size and SHA-256) once per package.
async fn package_text(lifecycle: &Lifecycle, listing: &Listing) -> Result<PackageText, String> {
    let key = listing.entry.sha256.clone();
    if let Some(known) = readme_cache()
        .lock()
        .ok()
        .and_then(|c| c.get(&key).cloned())
    {
        return Ok(known);
    }
    let bytes = lifecycle.download(listing).await.map_err(|e| {
        format!(
            "The package could not be read: {}",
            capitalised(&e.to_string())
        )
    })?;
    let package = Package::from_bytes(&bytes, lifecycle.config().limits).map_err(|e| {
        format!(
            "The package could not be read: {}",
            capitalised(&e.to_string())
        )
    })?;
    let text = read_package_text(&package);
    if let Ok(mut cache) = readme_cache().lock() {
        if cache.len() >= README_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, text.clone());
    }
    Ok(text)
}

fn read_package_text(package: &Package) -> PackageText {
    let license = package
        .manifest()
        .ok()
        .map(|m| m.license)
        .filter(|l| !l.trim().is_empty());
    let (readme, readme_problem) = match package.files.get("README.md") {
        None => (None, Some("The package has no README.".to_string())),
        Some(bytes) if bytes.len() > MAX_README_BYTES => (
            None,
            Some(format!(
                "The README is too long to show here ({} KB; at most {} KB).",
                bytes.len() / 1024,
                MAX_README_BYTES / 1024
            )),
        ),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text.to_string()), None),
            Err(_) => (
                None,
                Some("The README is not UTF-8 text, so it is not shown.".to_string()),
            ),
        },
    };
    PackageText {
        readme,
        readme_problem,
        license,
    }
}

pub async fn request_install(
    id: String,
    version: Option<String>,
    enable: bool,
) -> Result<InstallRequested, AppError> {
    let caller = require(Role::Admin).await?;
    let id = id.trim().to_string();
    if id.is_empty() || id.len() > 200 || !id.contains('/') {
        return Err(AppError::invalid(
            "id",
            "Name the extension as publisher/name.",
        ));
    }
    let requirement = match given(version) {
        None => None,
        Some(v) => Some(VersionReq::parse(&format!("={v}")).map_err(|e| {
            AppError::invalid("version", format!("Version '{v}' is not a version: {e}."))
        })?),
    };
    let console = console()?;
    let request = console
        .lifecycle
        .request_install_from_catalog(&id, requirement.as_ref(), enable, &acting(&caller))
        .await
        .map_err(lifecycle_error)?;
    let plan: Plan = serde_json::from_str(&request.plan).map_err(AppError::internal)?;
    let version = plan
        .items
        .iter()
        .find(|i| i.extension == id)
        .map(|i| i.version.clone())
        .unwrap_or_default();
    Ok(InstallRequested {
        request_id: request.id,
        extension: id,
        version,
        items: plan
            .items
            .iter()
            .map(|i| format!("{} {}", i.extension, i.version))
            .collect(),
        enable: plan.enable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_explained_with_the_kernels_words_and_risk() {
        let info = capability_info(
            "network.outbound",
            " Posts webhooks. ",
            &["hooks.example.com".into()],
        );
        assert_eq!(info.description, Capability::NetworkOutbound.describe());
        assert_eq!(info.risk, RiskLevel::High);
        assert_eq!(info.justification, "Posts webhooks.");
        assert_eq!(info.hosts, ["hooks.example.com"]);
        assert_eq!(
            capability_info("database.admin", "", &[]).risk,
            RiskLevel::Critical
        );
        assert_eq!(
            capability_info("ui.register_widget", "", &[]).risk,
            RiskLevel::Low
        );
        let unknown = capability_info("database.sudo", "", &[]);
        assert_eq!(unknown.risk, RiskLevel::Critical);
        assert!(unknown.description.contains("does not know"));
    }

    #[test]
    fn badges_follow_the_trust_level_the_lifecycle_reports() {
        assert_eq!(
            signature_badge(Some("first_party"), true),
            SignatureBadge::FirstParty
        );
        assert_eq!(
            signature_badge(Some("verified_publisher"), true),
            SignatureBadge::VerifiedPublisher
        );
        assert_eq!(signature_badge(None, true), SignatureBadge::Community);
        assert_eq!(signature_badge(None, false), SignatureBadge::Unsigned);
        assert_eq!(
            signature_badge(Some("unsigned"), false),
            SignatureBadge::Unsigned
        );
    }
}
