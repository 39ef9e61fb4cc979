//! Extension manifests (`magflock.toml` in a package): parsing and validation.
//!
//! Guarantees: [`Manifest::parse`] returns a manifest only when every rule
//! holds; otherwise it returns every problem found, each naming the field and
//! its line and column. Rules: required fields present and well-formed (id
//! `publisher/name`, semver version, semver requirement for the kernel API and
//! each dependency); capabilities in the catalog, each requested once, with a
//! host allowlist exactly where the capability takes one; hooks in the hook map,
//! each handled once, each with its capability requested; event subscriptions
//! only with `realtime.subscribe_events`; contributions unique by id and backed
//! by their capability; budgets within the platform maxima.

use crate::Capability;
use crate::event::Pattern;
use crate::hooks::{self, HookKind, HookSpec};
use semver::{Version, VersionReq};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use toml::Spanned;

/// Per-call limits the sandbox enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    /// Wasmtime fuel per call (roughly, instructions).
    pub fuel_per_call: u64,
    pub memory_mb: u64,
    /// Wall-clock deadline per call.
    pub deadline_ms: u64,
}

impl Budgets {
    pub const DEFAULT: Budgets = Budgets {
        fuel_per_call: 100_000_000,
        memory_mb: 64,
        deadline_ms: 1_000,
    };
    /// Nothing may ask for more than this.
    pub const PLATFORM_MAX: Budgets = Budgets {
        fuel_per_call: 2_000_000_000,
        memory_mb: 512,
        deadline_ms: 30_000,
    };
}

/// What a filter's failure (error, trap, missed deadline) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    /// The platform's own decision stands (the default).
    Open,
    /// The action is denied.
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedCapability {
    pub capability: Capability,
    /// Why the extension needs it, shown to the approving admin.
    pub justification: String,
    /// For `network.outbound`: the hosts it may call.
    pub hosts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookHandler {
    pub hook: &'static HookSpec,
    pub failure: FailurePolicy,
    /// Lower runs first; ties run in extension id order.
    pub priority: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContributionKind {
    Widget,
    Panel,
    Endpoint,
    Channel,
    Command,
    AuthProvider,
}

impl ContributionKind {
    const ALL: [(ContributionKind, &'static str, Option<Capability>); 6] = [
        (
            ContributionKind::Widget,
            "widgets",
            Some(Capability::UiRegisterWidget),
        ),
        (
            ContributionKind::Panel,
            "panels",
            Some(Capability::UiRegisterPanel),
        ),
        (
            ContributionKind::Endpoint,
            "endpoints",
            Some(Capability::ApiRegisterEndpoint),
        ),
        (
            ContributionKind::Channel,
            "channels",
            Some(Capability::RealtimeRegisterChannel),
        ),
        (ContributionKind::Command, "commands", None),
        (
            ContributionKind::AuthProvider,
            "auth_providers",
            Some(Capability::AuthRegisterProvider),
        ),
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub kind: ContributionKind,
    pub id: String,
    pub title: Option<String>,
    /// The API versions an endpoint is served under (`v1`, `v2`, ...), lowest
    /// first; `["v1"]` unless the manifest says otherwise. Empty for every
    /// other kind of contribution.
    pub versions: Vec<String>,
}

/// The API version endpoints are served under unless their manifest lists others.
pub const DEFAULT_API_VERSION: &str = "v1";

/// Whether `text` names an API version: `v` and a number from 1, no leading zero.
pub fn is_api_version(text: &str) -> bool {
    text.strip_prefix('v').is_some_and(|n| {
        !n.is_empty()
            && !n.starts_with('0')
            && n.len() <= 4
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn api_version_number(text: &str) -> u32 {
    text[1..].parse().unwrap_or(u32::MAX)
}

/// A validated manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: Version,
    pub publisher: String,
    pub description: String,
    pub license: String,
    pub kernel_api: VersionReq,
    pub dependencies: Vec<(String, VersionReq)>,
    pub capabilities: Vec<RequestedCapability>,
    pub hooks: Vec<HookHandler>,
    pub subscriptions: Vec<String>,
    pub contributions: Vec<Contribution>,
    pub budgets: Budgets,
    /// Marketplace categories (lower-case slugs).
    pub categories: Vec<String>,
    /// Community or Pro edition (the entitlement the package needs).
    pub edition: Edition,
    /// The extension's default configuration (a JSON object), handed to
    /// `init` merged with what the admin set.
    pub config: serde_json::Value,
}

/// Which edition an extension belongs to: Pro extensions need a Pro licence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edition {
    Community,
    Pro,
}

impl Edition {
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Community => "ce",
            Edition::Pro => "pro",
        }
    }
}

impl Manifest {
    pub fn requests(&self, capability: Capability) -> bool {
        self.capabilities.iter().any(|c| c.capability == capability)
    }
}

/// One problem, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.field, self.message
        )
    }
}

/// Every problem of a refused manifest, in file order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ManifestErrors(pub Vec<ManifestError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

// ---- the file as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    extension: RawExtension,
    #[serde(default)]
    dependencies: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    capabilities: Vec<RawCapability>,
    #[serde(default)]
    hooks: Vec<RawHook>,
    #[serde(default)]
    events: RawEvents,
    #[serde(default)]
    contributes: BTreeMap<String, Spanned<Vec<RawContribution>>>,
    #[serde(default)]
    budgets: RawBudgets,
    #[serde(default)]
    config: Option<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtension {
    id: Spanned<String>,
    name: Spanned<String>,
    version: Spanned<String>,
    publisher: Spanned<String>,
    description: Spanned<String>,
    license: Spanned<String>,
    kernel_api: Spanned<String>,
    #[serde(default)]
    categories: Vec<Spanned<String>>,
    #[serde(default)]
    edition: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapability {
    name: Spanned<String>,
    #[serde(default)]
    justification: Option<Spanned<String>>,
    #[serde(default)]
    hosts: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    name: Spanned<String>,
    #[serde(default)]
    failure: Option<Spanned<String>>,
    #[serde(default)]
    priority: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    #[serde(default)]
    subscribe: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContribution {
    id: Spanned<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    versions: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBudgets {
    fuel_per_call: Option<Spanned<u64>>,
    memory_mb: Option<Spanned<u64>>,
    deadline_ms: Option<Spanned<u64>>,
}

/// The API versions an endpoint lists, checked and sorted lowest first.
fn api_versions(listed: &Spanned<Vec<String>>, field: &str, p: &mut Problems) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for version in listed.get_ref() {
        if !is_api_version(version) {
            p.on(
                listed,
                field,
                format!("'{version}' is not an API version (write v1, v2, ...)"),
            );
        } else if versions.contains(version) {
            p.on(listed, field, format!("'{version}' is listed twice"));
        } else {
            versions.push(version.clone());
        }
    }
    if listed.get_ref().is_empty() {
        p.on(
            listed,
            field,
            "list at least one API version, e.g. [\"v1\"]",
        );
    }
    versions.sort_by_key(|v| api_version_number(v));
    versions
}

/// Collects located problems while validating.
struct Problems<'a> {
    file: &'a str,
    text: &'a str,
    found: Vec<(usize, ManifestError)>,
}

impl Problems<'_> {
    fn at(&mut self, offset: usize, field: impl Into<String>, message: impl Into<String>) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        let error = ManifestError {
            file: self.file.to_string(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        };
        self.found.push((offset, error));
    }

    fn on<T>(
        &mut self,
        spanned: &Spanned<T>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.at(spanned.span().start, field, message);
    }
}

impl Manifest {
    /// Parses and validates `text`, the contents of `file`.
    pub fn parse(text: &str, file: &str) -> Result<Manifest, ManifestErrors> {
        let mut problems = Problems {
            file,
            text,
            found: Vec::new(),
        };
        let raw: RawManifest = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let offset = e.span().map(|s| s.start).unwrap_or(0);
                problems.at(offset, "manifest", e.message().trim().to_string());
                return Err(problems.finish());
            }
        };
        let manifest = validate(raw, &mut problems);
        if problems.found.is_empty() {
            Ok(manifest)
        } else {
            Err(problems.finish())
        }
    }
}

impl Problems<'_> {
    fn finish(mut self) -> ManifestErrors {
        self.found.sort_by_key(|(offset, _)| *offset);
        ManifestErrors(self.found.into_iter().map(|(_, e)| e).collect())
    }
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !text.starts_with('-')
}

fn valid_id(id: &str) -> bool {
    id.split_once('/')
        .is_some_and(|(publisher, name)| is_slug(publisher) && is_slug(name))
}

fn required_text(spanned: &Spanned<String>, field: &str, p: &mut Problems) -> String {
    let value = spanned.get_ref().trim().to_string();
    if value.is_empty() {
        p.on(spanned, field, "must not be empty");
    }
    value
}

fn validate(raw: RawManifest, p: &mut Problems) -> Manifest {
    let ext = &raw.extension;
    let id = required_text(&ext.id, "extension.id", p);
    if !id.is_empty() && !valid_id(&id) {
        p.on(
            &ext.id,
            "extension.id",
            format!("'{id}' must look like publisher/name (lower-case letters, digits, '-')"),
        );
    }
    let version = Version::parse(ext.version.get_ref()).unwrap_or_else(|e| {
        p.on(
            &ext.version,
            "extension.version",
            format!("'{}' is not a semantic version: {e}", ext.version.get_ref()),
        );
        Version::new(0, 0, 0)
    });
    let kernel_api = VersionReq::parse(ext.kernel_api.get_ref()).unwrap_or_else(|e| {
        p.on(
            &ext.kernel_api,
            "extension.kernel_api",
            format!(
                "'{}' is not a version requirement: {e}",
                ext.kernel_api.get_ref()
            ),
        );
        VersionReq::STAR
    });

    let mut dependencies = Vec::new();
    for (dep, req) in &raw.dependencies {
        let field = format!("dependencies.\"{dep}\"");
        if !valid_id(dep) {
            p.on(
                req,
                &field,
                format!("'{dep}' is not an extension id (publisher/name)"),
            );
        }
        if *dep == id {
            p.on(req, &field, "an extension cannot depend on itself");
        }
        match VersionReq::parse(req.get_ref()) {
            Ok(parsed) => dependencies.push((dep.clone(), parsed)),
            Err(e) => p.on(
                req,
                &field,
                format!("'{}' is not a version requirement: {e}", req.get_ref()),
            ),
        }
    }

    let mut capabilities: Vec<RequestedCapability> = Vec::new();
    for (i, cap) in raw.capabilities.iter().enumerate() {
        let field = format!("capabilities[{i}].name");
        let Ok(capability) = cap.name.get_ref().parse::<Capability>() else {
            p.on(
                &cap.name,
                field,
                format!("unknown capability '{}'", cap.name.get_ref()),
            );
            continue;
        };
        if capabilities.iter().any(|c| c.capability == capability) {
            p.on(
                &cap.name,
                field,
                format!("'{capability}' is requested twice"),
            );
            continue;
        }
        let hosts = cap
            .hosts
            .as_ref()
            .map(|h| h.get_ref().clone())
            .unwrap_or_default();
        match (&cap.hosts, capability.takes_hosts()) {
            (Some(h), false) => p.on(
                h,
                format!("capabilities[{i}].hosts"),
                format!("'{capability}' takes no host list"),
            ),
            (_, true) if hosts.is_empty() => p.on(
                &cap.name,
                field,
                format!("'{capability}' needs a non-empty `hosts` allowlist"),
            ),
            _ => {}
        }
        if let Some(h) = &cap.hosts {
            for host in h.get_ref() {
                if host.is_empty() || host.contains(['/', ':', ' ']) || host == "*" {
                    p.on(
                        h,
                        format!("capabilities[{i}].hosts"),
                        format!(
                            "'{host}' is not a host name (no scheme, path, port or wildcard-only)"
                        ),
                    );
                }
            }
        }
        let justification = cap
            .justification
            .as_ref()
            .map(|j| j.get_ref().trim().to_string())
            .unwrap_or_default();
        capabilities.push(RequestedCapability {
            capability,
            justification,
            hosts,
        });
    }
    let requested = |c: Capability| capabilities.iter().any(|r| r.capability == c);

    let mut handlers: Vec<HookHandler> = Vec::new();
    for (i, raw_hook) in raw.hooks.iter().enumerate() {
        let field = format!("hooks[{i}].name");
        let Some(spec) = hooks::find(raw_hook.name.get_ref()) else {
            p.on(
                &raw_hook.name,
                field,
                format!("unknown hook '{}'", raw_hook.name.get_ref()),
            );
            continue;
        };
        if handlers.iter().any(|h| h.hook.name == spec.name) {
            p.on(
                &raw_hook.name,
                field,
                format!("hook '{}' is listed twice", spec.name),
            );
            continue;
        }
        if let Some(needed) = spec.capability.filter(|c| !requested(*c)) {
            p.on(
                &raw_hook.name,
                field,
                format!(
                    "hook '{}' needs capability '{needed}', which is not requested",
                    spec.name
                ),
            );
        }
        let failure = match raw_hook.failure.as_ref().map(|f| (f, f.get_ref().as_str())) {
            None | Some((_, "open")) => FailurePolicy::Open,
            Some((_, "closed")) if spec.kind == HookKind::Filter => FailurePolicy::Closed,
            Some((f, "closed")) => {
                p.on(
                    f,
                    format!("hooks[{i}].failure"),
                    format!(
                        "'{}' is an action hook; only filters have a failure policy",
                        spec.name
                    ),
                );
                FailurePolicy::Open
            }
            Some((f, other)) => {
                p.on(
                    f,
                    format!("hooks[{i}].failure"),
                    format!("'{other}' must be \"open\" or \"closed\""),
                );
                FailurePolicy::Open
            }
        };
        handlers.push(HookHandler {
            hook: spec,
            failure,
            priority: raw_hook.priority.unwrap_or(100),
        });
    }

    let mut subscriptions = Vec::new();
    for (i, pattern) in raw.events.subscribe.iter().enumerate() {
        let field = format!("events.subscribe[{i}]");
        if let Err(problem) = Pattern::parse(pattern.get_ref()) {
            p.on(pattern, &field, problem.to_string());
        }
        if !requested(Capability::RealtimeSubscribeEvents) {
            p.on(pattern, &field, "subscribing to events needs capability 'realtime.subscribe_events', which is not requested");
        }
        subscriptions.push(pattern.get_ref().clone());
    }

    let mut contributions: Vec<Contribution> = Vec::new();
    for (section, items) in &raw.contributes {
        let field = format!("contributes.{section}");
        let Some((kind, _, needed)) = ContributionKind::ALL
            .iter()
            .find(|(_, name, _)| name == section)
        else {
            p.on(items, &field, format!("unknown contribution kind '{section}' (widgets, panels, endpoints, channels, commands, auth_providers)"));
            continue;
        };
        if let Some(needed) = needed.filter(|c| !requested(*c)) {
            p.on(
                items,
                &field,
                format!(
                    "contributing {section} needs capability '{needed}', which is not requested"
                ),
            );
        }
        let mut seen = BTreeSet::new();
        for item in items.get_ref() {
            let item_id = item.id.get_ref();
            if !is_slug(item_id) {
                p.on(
                    &item.id,
                    format!("{field}.id"),
                    format!("'{item_id}' must be lower-case letters, digits and '-'"),
                );
            } else if !seen.insert(item_id.clone()) {
                p.on(
                    &item.id,
                    format!("{field}.id"),
                    format!("'{item_id}' is used twice"),
                );
            }
            let versions = match (&item.versions, kind) {
                (None, ContributionKind::Endpoint) => vec![DEFAULT_API_VERSION.to_string()],
                (None, _) => Vec::new(),
                (Some(listed), ContributionKind::Endpoint) => {
                    let field = format!("{field}.versions");
                    api_versions(listed, &field, p)
                }
                (Some(listed), _) => {
                    p.on(
                        listed,
                        format!("{field}.versions"),
                        "only endpoints have API versions",
                    );
                    Vec::new()
                }
            };
            contributions.push(Contribution {
                kind: *kind,
                id: item_id.clone(),
                title: item.title.clone(),
                versions,
            });
        }
    }

    let mut budgets = Budgets::DEFAULT;
    let max = Budgets::PLATFORM_MAX;
    for (value, slot, limit, name) in [
        (
            &raw.budgets.fuel_per_call,
            &mut budgets.fuel_per_call,
            max.fuel_per_call,
            "budgets.fuel_per_call",
        ),
        (
            &raw.budgets.memory_mb,
            &mut budgets.memory_mb,
            max.memory_mb,
            "budgets.memory_mb",
        ),
        (
            &raw.budgets.deadline_ms,
            &mut budgets.deadline_ms,
            max.deadline_ms,
            "budgets.deadline_ms",
        ),
    ] {
        if let Some(v) = value {
            match *v.get_ref() {
                0 => p.on(v, name, "must be greater than 0"),
                n if n > limit => p.on(
                    v,
                    name,
                    format!("{n} is over the platform maximum of {limit}"),
                ),
                n => *slot = n,
            }
        }
    }

    let mut categories: Vec<String> = Vec::new();
    for (i, category) in ext.categories.iter().enumerate() {
        let text = category.get_ref();
        if !is_slug(text) {
            p.on(
                category,
                format!("extension.categories[{i}]"),
                format!("'{text}' must be a lower-case slug (letters, digits, '-')"),
            );
        } else if categories.contains(text) {
            p.on(
                category,
                format!("extension.categories[{i}]"),
                format!("'{text}' is listed twice"),
            );
        } else {
            categories.push(text.clone());
        }
    }
    let edition = match ext.edition.as_ref().map(|e| (e, e.get_ref().as_str())) {
        None | Some((_, "ce")) => Edition::Community,
        Some((_, "pro")) => Edition::Pro,
        Some((spanned, other)) => {
            p.on(
                spanned,
                "extension.edition",
                format!("'{other}' must be \"ce\" or \"pro\""),
            );
            Edition::Community
        }
    };
    let config = match &raw.config {
        None => serde_json::Value::Object(Default::default()),
        Some(table) => serde_json::to_value(table.get_ref()).unwrap_or_else(|e| {
            p.on(table, "config", format!("cannot be expressed as JSON: {e}"));
            serde_json::Value::Object(Default::default())
        }),
    };
    Manifest {
        id,
        name: required_text(&ext.name, "extension.name", p),
        version,
        publisher: required_text(&ext.publisher, "extension.publisher", p),
        description: ext.description.get_ref().trim().to_string(),
        license: required_text(&ext.license, "extension.license", p),
        kernel_api,
        dependencies,
        capabilities,
        hooks: handlers,
        subscriptions,
        contributions,
        budgets,
        categories,
        edition,
        config,
    }
}
