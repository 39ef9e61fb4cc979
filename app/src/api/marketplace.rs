//! Marketplace: the catalogs' extensions as MagUI browses them (search,
//! detail, requested capabilities in plain language with their risk) and the
//! install request that puts a plan in the approvals queue.
//!
//! The types here travel to the browser, so they carry only what the pages
//! show: the kernel's capability descriptions and risk levels are looked up on
//! the server (`crate::server::marketplace`).

use super::Access;
use crate::AppError;
use leptos::prelude::*;
use magflock_types::Role;
use serde::{Deserialize, Serialize};

/// This module's server functions: (path, access).
pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/marketplace_search", Access::AtLeast(Role::Auditor)),
    ("/api/marketplace_listing", Access::AtLeast(Role::Auditor)),
    ("/api/request_install", Access::AtLeast(Role::Admin)),
];

/// How far a package is trusted here, from its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureBadge {
    /// Signed by a key trusted as MagFlock's own.
    FirstParty,
    /// Signed by a publisher key an admin trusts.
    VerifiedPublisher,
    /// Signed, but by a key this instance does not trust.
    Community,
    /// Not signed at all.
    Unsigned,
}

impl SignatureBadge {
    pub const ALL: [SignatureBadge; 4] = [
        SignatureBadge::FirstParty,
        SignatureBadge::VerifiedPublisher,
        SignatureBadge::Community,
        SignatureBadge::Unsigned,
    ];

    /// The URL and form value: `first_party`, `verified_publisher`, `community`, `unsigned`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureBadge::FirstParty => "first_party",
            SignatureBadge::VerifiedPublisher => "verified_publisher",
            SignatureBadge::Community => "community",
            SignatureBadge::Unsigned => "unsigned",
        }
    }

    pub fn parse(text: &str) -> Option<SignatureBadge> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            SignatureBadge::FirstParty => "First-party",
            SignatureBadge::VerifiedPublisher => "Verified publisher",
            SignatureBadge::Community => "Community",
            SignatureBadge::Unsigned => "Unsigned",
        }
    }

    /// One sentence on what the badge means.
    pub fn explain(self) -> &'static str {
        match self {
            SignatureBadge::FirstParty => "Signed with a key trusted as MagFlock's own.",
            SignatureBadge::VerifiedPublisher => "Signed with a publisher key an admin trusts.",
            SignatureBadge::Community => {
                "Signed with a key this instance does not trust; it cannot be installed until an admin trusts the publisher's key."
            }
            SignatureBadge::Unsigned => {
                "Nobody signed it; it can only be installed while the development setting allows unsigned packages."
            }
        }
    }
}

/// How much a capability lets an extension do, as a browser's permission
/// prompt would rate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    pub fn parse(text: &str) -> Option<RiskLevel> {
        [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Critical,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RiskLevel::Low => "Low risk",
            RiskLevel::Medium => "Medium risk",
            RiskLevel::High => "High risk",
            RiskLevel::Critical => "Critical risk",
        }
    }
}

/// One capability an extension requests, explained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityInfo {
    /// The dotted name, e.g. `network.outbound`.
    pub name: String,
    /// What granting it allows, in plain language.
    pub description: String,
    pub risk: RiskLevel,
    /// Why the extension asks for it (from its manifest).
    pub justification: String,
    /// The hosts it may reach (network capabilities).
    pub hosts: Vec<String>,
}

/// One extension as a marketplace card shows it (its newest listed version).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingSummary {
    /// `publisher/name`.
    pub id: String,
    pub name: String,
    /// The publisher's display name.
    pub publisher: String,
    pub version: String,
    pub description: String,
    pub categories: Vec<String>,
    /// `ce` or `pro`.
    pub edition: String,
    pub signature: SignatureBadge,
    /// The installed version, if installed.
    pub installed: Option<String>,
    /// Why this kernel cannot run it, if it cannot.
    pub incompatible: Option<String>,
    /// The capability names it requests.
    pub capabilities: Vec<String>,
    /// The highest risk among them (`None` when it requests nothing).
    pub highest_risk: Option<RiskLevel>,
}

impl ListingSummary {
    pub fn href(&self) -> String {
        format!("/marketplace/{}", self.id)
    }
}

/// `ce` / `pro` as people read it.
pub fn edition_label(edition: &str) -> &'static str {
    match edition {
        "pro" => "Pro",
        _ => "Community Edition",
    }
}

/// A search's answer, with what the filters can offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogResults {
    pub listings: Vec<ListingSummary>,
    /// Catalog sources that could not be read, one sentence each.
    pub problems: Vec<String>,
    /// Every category any listed extension has, sorted.
    pub categories: Vec<String>,
    /// Every capability the kernel knows: (name, plain-language description).
    pub capabilities: Vec<(String, String)>,
    /// How many extensions the catalogs list, before filtering.
    pub total: usize,
}

/// A dependency of a listed version and whether this instance can satisfy it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyInfo {
    pub id: String,
    pub requirement: String,
    /// The installed version, if installed.
    pub installed: Option<String>,
    /// The newest catalog version that satisfies the requirement.
    pub available: Option<String>,
}

/// One listed version of an extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: String,
    pub signature: SignatureBadge,
    pub incompatible: Option<String>,
    /// Which catalog lists it.
    pub source: String,
}

/// Everything the detail page shows about one version of an extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingDetail {
    pub summary: ListingSummary,
    pub capabilities: Vec<CapabilityInfo>,
    /// The kernel API versions it runs on.
    pub kernel_api: String,
    /// The kernel API this instance serves.
    pub kernel: String,
    pub dependencies: Vec<DependencyInfo>,
    /// Every listed version, newest first.
    pub versions: Vec<VersionInfo>,
    /// The newest listed version (what a card shows).
    pub newest: String,
    pub source: String,
    pub key_id: Option<String>,
    pub size: u64,
    pub sha256: String,
    pub license: Option<String>,
    /// The package's README.md (Markdown text; the page renders a safe subset).
    pub readme: Option<String>,
    /// Why the README could not be shown, if it could not.
    pub readme_problem: Option<String>,
    /// A request for this extension already waiting for approval.
    pub pending_request: Option<String>,
    pub problems: Vec<String>,
}

/// What an install request queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRequested {
    pub request_id: String,
    pub extension: String,
    pub version: String,
    /// Every package of the plan (dependencies first) as `id version`.
    pub items: Vec<String>,
    pub enable: bool,
}

/// The newest version of every listed extension matching every given filter:
/// `q` (words in the id, name or description), `category`, `capability`,
/// `signature` (a [`SignatureBadge`] code) and `edition` (`ce` or `pro`).
#[server(endpoint = "marketplace_search", output = crate::api::codec::Json)]
pub async fn marketplace_search(
    #[server(default)] q: Option<String>,
    #[server(default)] category: Option<String>,
    #[server(default)] capability: Option<String>,
    #[server(default)] signature: Option<String>,
    #[server(default)] edition: Option<String>,
) -> Result<CatalogResults, AppError> {
    crate::server::respond(
        crate::server::marketplace::search(q, category, capability, signature, edition).await,
    )
}

/// One extension (`publisher/name`), at `version` or its newest listed version.
#[server(endpoint = "marketplace_listing", output = crate::api::codec::Json)]
pub async fn marketplace_listing(
    id: String,
    #[server(default)] version: Option<String>,
) -> Result<ListingDetail, AppError> {
    crate::server::respond(crate::server::marketplace::listing(id, version).await)
}

/// Queues installing `id` (exactly `version` when given, else its newest
/// version) with the dependencies it needs, for an owner or admin to approve;
/// `enable`: enable each extension once installed.
#[server(endpoint = "request_install", output = crate::api::codec::Json)]
pub async fn request_install(
    id: String,
    #[server(default)] version: Option<String>,
    #[server(default)] enable: bool,
) -> Result<InstallRequested, AppError> {
    crate::server::respond(crate::server::marketplace::request_install(id, version, enable).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for badge in SignatureBadge::ALL {
            assert_eq!(SignatureBadge::parse(badge.as_str()), Some(badge));
        }
        for risk in ["low", "medium", "high", "critical"] {
            assert_eq!(RiskLevel::parse(risk).unwrap().as_str(), risk);
        }
        assert!(RiskLevel::Critical > RiskLevel::High && RiskLevel::Medium > RiskLevel::Low);
    }
}
