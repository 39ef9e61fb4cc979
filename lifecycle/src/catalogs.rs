//! Where packages come from: the local catalog (a folder the build fills with
//! first-party packages) and HTTP catalogs an admin adds. Search, install
//! plans with dependency resolution, and installs straight from a catalog.
//!
//! Guarantees: a catalog is used only if its index is signed by a trusted
//! key (checked on every read, so removing a key withdraws its catalogs at
//! once); a downloaded package must match the size and SHA-256 its entry
//! lists before anything else looks at it, and then passes every check a
//! package uploaded by hand passes; an HTTP source is fetched and verified
//! before it is added; each source that cannot be read is reported by name
//! while the others keep working. Fetches are bounded in time and size.

use magflock_kernel::audit::Actor;
use magflock_kernel::contract::WIT_VERSION;
use magflock_kernel::lifecycle_store::CapabilityRequest;
use magflock_kernel::semver::{Version, VersionReq};
use magflock_package::{
    CATALOG_INDEX, CATALOG_SIGNATURE, CatalogEntry, InstallPlan, PlanAction, Query, Resolver,
    SignatureLevel, SignedCatalog, TrustStore,
};
use magflock_types::Outcome;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::LifecycleError;
use crate::approvals::Offered;
use crate::manager::Lifecycle;

const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a catalog was read from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "location", rename_all = "snake_case")]
pub enum Source {
    Local(PathBuf),
    Http(String),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Local(dir) => format!("local catalog {}", dir.display()),
            Source::Http(url) => format!("catalog {url}"),
        }
    }
    fn base(&self) -> String {
        match self {
            Source::Local(dir) => dir.display().to_string(),
            Source::Http(url) => url.trim_end_matches('/').to_string(),
        }
    }
}

/// One listed version, with what this instance knows about it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listing {
    pub source: Source,
    pub entry: CatalogEntry,
    /// How the package's key is trusted here (`None`: unknown key or unsigned).
    pub signature_level: Option<String>,
    /// The installed version of this extension, if any.
    pub installed: Option<String>,
    /// Why this kernel cannot run it, if it cannot.
    pub incompatible: Option<String>,
}

/// Every readable catalog's entries, and the sources that could not be read.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CatalogView {
    pub listings: Vec<Listing>,
    pub problems: Vec<String>,
}

impl CatalogView {
    /// The newest version per extension matching `query`, in id order.
    pub fn search(&self, query: &Query) -> Vec<&Listing> {
        let entries: Vec<CatalogEntry> = self.listings.iter().map(|l| l.entry.clone()).collect();
        magflock_package::search(&entries, query)
            .into_iter()
            .filter_map(|found| {
                self.listings
                    .iter()
                    .find(|l| l.entry.id == found.id && l.entry.version == found.version)
            })
            .collect()
    }

    /// Every listed version of `id`, newest first.
    pub fn versions(&self, id: &str) -> Vec<&Listing> {
        let mut versions: Vec<&Listing> =
            self.listings.iter().filter(|l| l.entry.id == id).collect();
        versions.sort_by(|a, b| b.entry.version.cmp(&a.entry.version));
        versions
    }
}

fn kernel_version() -> Version {
    Version::parse(WIT_VERSION).expect("the contract version is semver")
}

impl Lifecycle {
    fn http(&self) -> Result<reqwest::Client, LifecycleError> {
        reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LifecycleError::Catalog(format!("HTTP client: {e}")))
    }

    /// Fetches `url` (at most `limit` bytes).
    async fn fetch(&self, url: &str, limit: u64) -> Result<Vec<u8>, String> {
        let response = self
            .http()
            .map_err(|e| e.to_string())?
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(format!("{url}: larger than {limit} bytes"));
        }
        let bytes = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if bytes.len() as u64 > limit {
            return Err(format!("{url}: larger than {limit} bytes"));
        }
        Ok(bytes.to_vec())
    }

    async fn read_source(
        &self,
        source: &Source,
        trust: &TrustStore,
    ) -> Result<SignedCatalog, String> {
        let limit = self.config.limits.max_total_bytes;
        let (index, signature) = match source {
            Source::Local(dir) => {
                let read = |name: &str| {
                    let path = dir.join(name);
                    std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
                };
                (read(CATALOG_INDEX)?, read(CATALOG_SIGNATURE)?)
            }
            Source::Http(url) => {
                let base = url.trim_end_matches('/');
                (
                    self.fetch(&format!("{base}/{CATALOG_INDEX}"), limit)
                        .await?,
                    self.fetch(&format!("{base}/{CATALOG_SIGNATURE}"), 64 * 1024)
                        .await?,
                )
            }
        };
        SignedCatalog::verify(&index, &signature, trust).map_err(|e| e.to_string())
    }

    async fn sources(&self) -> Result<Vec<Source>, LifecycleError> {
        let mut sources = Vec::new();
        if let Some(dir) = &self.config.local_catalog {
            sources.push(Source::Local(dir.clone()));
        }
        for source in self.store.catalog_sources().await? {
            sources.push(Source::Http(source.url));
        }
        Ok(sources)
    }

    /// Every entry of every readable catalog (local first, then HTTP sources
    /// in the order they were added).
    pub async fn catalog(&self) -> Result<CatalogView, LifecycleError> {
        let trust = self.trust.trust_store().await?;
        let installed = self.installed_versions().await?;
        let kernel = kernel_version();
        let mut view = CatalogView::default();
        for source in self.sources().await? {
            let signed = match self.read_source(&source, &trust).await {
                Ok(signed) => signed,
                Err(problem) => {
                    view.problems
                        .push(format!("{}: {problem}", source.describe()));
                    continue;
                }
            };
            for entry in signed.catalog.entries {
                let signature_level = entry
                    .key_id
                    .as_deref()
                    .and_then(|k| trust.get(k))
                    .map(|k| k.level.code().to_string());
                view.listings.push(Listing {
                    installed: installed.get(&entry.id).map(|v| v.to_string()),
                    incompatible: entry.incompatibility(&kernel).map(|m| m.to_string()),
                    signature_level,
                    source: source.clone(),
                    entry,
                });
            }
        }
        Ok(view)
    }

    /// What installing `id` (optionally within `requirement`) would do, with
    /// the dependencies it pulls in, in install order.
    pub async fn plan_install(
        &self,
        id: &str,
        requirement: Option<&VersionReq>,
    ) -> Result<(InstallPlan, CatalogView), LifecycleError> {
        let view = self.catalog().await?;
        let installed: BTreeMap<String, Version> =
            self.installed_versions().await?.into_iter().collect();
        let kernel = kernel_version();
        let plan = Resolver::new(view.listings.iter().map(|l| &l.entry), &installed, &kernel)
            .plan(id, requirement)
            .map_err(LifecycleError::Package)?;
        Ok((plan, view))
    }

    /// Resolves, downloads and checks every package of the plan and submits
    /// them as one request for approval.
    pub async fn request_install_from_catalog(
        &self,
        id: &str,
        requirement: Option<&VersionReq>,
        enable: bool,
        by: &Actor,
    ) -> Result<CapabilityRequest, LifecycleError> {
        let (plan, view) = self.plan_install(id, requirement).await?;
        if plan.is_empty() {
            return Err(LifecycleError::State(format!(
                "{id} is already installed in a version that satisfies the request"
            )));
        }
        let mut offered = Vec::new();
        for step in &plan.steps {
            if let PlanAction::Upgrade { from } = &step.action {
                return Err(LifecycleError::State(format!(
                    "{} {from} is installed; upgrade it to {} instead of installing",
                    step.id, step.version
                )));
            }
            let listing = view
                .listings
                .iter()
                .find(|l| l.entry.id == step.id && l.entry.version == step.version)
                .ok_or_else(|| LifecycleError::Catalog(format!("{} vanished", step.id)))?;
            let bytes = self.download(listing).await?;
            offered.push(Offered {
                bytes,
                required_by: step.required_by.clone(),
            });
        }
        self.request_install(offered, enable, by).await
    }

    /// The package of a listing, checked against the entry's size and digest.
    pub async fn download(&self, listing: &Listing) -> Result<Vec<u8>, LifecycleError> {
        let entry = &listing.entry;
        let location = entry.download_url(&listing.source.base());
        let bytes = match &listing.source {
            Source::Local(_) if !location.starts_with("http") => std::fs::read(&location)
                .map_err(|e| LifecycleError::Catalog(format!("{location}: {e}")))?,
            _ => self
                .fetch(&location, self.config.limits.max_total_bytes)
                .await
                .map_err(LifecycleError::Catalog)?,
        };
        entry.verify_download(&bytes)?;
        Ok(bytes)
    }

    /// Adds an HTTP catalog after fetching and verifying it once.
    pub async fn add_catalog_source(&self, url: &str, by: &Actor) -> Result<usize, LifecycleError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| LifecycleError::Catalog(format!("'{url}' is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(LifecycleError::Catalog(format!(
                "'{url}': a catalog source must be an http:// or https:// URL"
            )));
        }
        let trust = self.trust.trust_store().await?;
        let signed = self
            .read_source(&Source::Http(url.to_string()), &trust)
            .await
            .map_err(|problem| LifecycleError::Catalog(format!("not added: {problem}")))?;
        if !self.store.catalog_source_add(url, by.id.as_deref()).await? {
            return Err(LifecycleError::Catalog(format!(
                "{url} is already a source"
            )));
        }
        let level = trust
            .get(&signed.verified.key_id.clone().unwrap_or_default())
            .map(|k| k.level)
            .unwrap_or(SignatureLevel::Unsigned);
        self.audit(
            by,
            "catalog.source_added",
            url,
            Outcome::Success,
            json!({ "name": signed.catalog.name, "entries": signed.catalog.entries.len(), "signed_by": signed.verified.key_id, "level": level.code() }),
        )
        .await?;
        Ok(signed.catalog.entries.len())
    }

    pub async fn remove_catalog_source(&self, url: &str, by: &Actor) -> Result<(), LifecycleError> {
        if !self.store.catalog_source_remove(url).await? {
            return Err(LifecycleError::Catalog(format!("{url} is not a source")));
        }
        self.audit(
            by,
            "catalog.source_removed",
            url,
            Outcome::Success,
            json!({}),
        )
        .await
    }
}
