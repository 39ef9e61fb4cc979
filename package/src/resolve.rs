//! Dependency resolution: from the extension wanted, the catalogs' entries,
//! what is installed and this kernel's API version, an [`InstallPlan`] in
//! install order (like an OLM install plan).
//!
//! Guarantees:
//! * Every step of a returned plan is the highest listed version that
//!   satisfies every requirement collected on its extension and whose kernel
//!   API range accepts this kernel. Pre-releases are chosen only when a
//!   requirement names one (semver matching: `*` or `^1` never match
//!   `2.0.0-rc.1`, `>=2.0.0-rc.1` does).
//! * Steps are in install order: each extension after everything it depends
//!   on, each extension once (a diamond installs the shared dependency once).
//! * An installed dependency that satisfies every requirement is kept (listed
//!   in [`InstallPlan::satisfied`], its own dependencies taken as installed);
//!   one a requirement excludes is never upgraded implicitly: the plan is
//!   refused. Only the requested extension itself may be upgraded, never
//!   downgraded.
//! * An unknown extension, a requirement no listed version meets, two
//!   requirers no version satisfies together, a kernel API mismatch, an
//!   installed version a requirement excludes and a dependency cycle are
//!   each refused with their own [`PackageError`] variant, whose message is
//!   one sentence naming the extensions and versions.
//! * Deterministic and terminating: the same input gives the same plan or
//!   error. The resolver takes the highest version of each extension and
//!   lowers it when a later requirement excludes it (requirements are only
//!   ever added); it does not go back to lower versions of a requirer to
//!   escape a conflict, it reports the conflict. When several catalogs list
//!   the same (id, version), the first listed wins.

use magflock_kernel::Edition;
use magflock_kernel::semver::{Version, VersionReq};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::{CatalogCapability, CatalogEntry, PackageError};

/// Who asked for an extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirer {
    /// The install request itself.
    Request,
    /// An extension of the plan, by id.
    Extension(String),
}

impl fmt::Display for Requirer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirer::Request => f.write_str("the install request"),
            Requirer::Extension(id) => write!(f, "'{id}'"),
        }
    }
}

/// A version requirement on an extension, and who made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub by: Requirer,
    pub req: VersionReq,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanAction {
    Install,
    /// Replaces the installed version (only for the requested extension).
    Upgrade {
        from: Version,
    },
}

/// One extension to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanStep {
    pub id: String,
    pub version: Version,
    pub action: PlanAction,
    pub entry: CatalogEntry,
    /// The plan's extensions that depend on this one, in id order; empty for
    /// the requested extension.
    pub required_by: Vec<String>,
}

impl PlanStep {
    /// The capabilities the step's extension requests.
    pub fn capabilities(&self) -> &[CatalogCapability] {
        &self.entry.capabilities
    }
}

/// An installed extension the plan relies on as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SatisfiedDependency {
    pub id: String,
    pub installed: Version,
    /// Empty when it is the requested extension, already installed.
    pub required_by: Vec<String>,
}

/// One extension's use of a capability, for the approval summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityUse {
    pub extension: String,
    pub justification: String,
    pub hosts: Vec<String>,
}

/// What to install, dependencies first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstallPlan {
    pub steps: Vec<PlanStep>,
    pub satisfied: Vec<SatisfiedDependency>,
}

impl InstallPlan {
    /// Whether there is nothing to install.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Every capability the plan's steps request, by capability name, with
    /// the extensions requesting it in install order.
    pub fn capabilities(&self) -> BTreeMap<String, Vec<CapabilityUse>> {
        let mut summary: BTreeMap<String, Vec<CapabilityUse>> = BTreeMap::new();
        for step in &self.steps {
            for capability in step.capabilities() {
                summary
                    .entry(capability.name.clone())
                    .or_default()
                    .push(CapabilityUse {
                        extension: step.id.clone(),
                        justification: capability.justification.clone(),
                        hosts: capability.hosts.clone(),
                    });
            }
        }
        summary
    }

    /// Whether any step is a Pro extension (needs a Pro licence).
    pub fn needs_pro(&self) -> bool {
        self.steps.iter().any(|s| s.entry.edition == Edition::Pro)
    }
}

/// Plans installs against a set of catalog entries, the installed
/// extensions and this kernel's API version.
pub struct Resolver<'a> {
    /// Id → listed versions, newest first, one entry per version.
    listed: BTreeMap<&'a str, Vec<&'a CatalogEntry>>,
    installed: &'a BTreeMap<String, Version>,
    kernel_api: &'a Version,
}

impl<'a> Resolver<'a> {
    /// `available` may chain several catalogs' entries, highest priority
    /// first: for an (id, version) listed twice, the first entry is used.
    pub fn new(
        available: impl IntoIterator<Item = &'a CatalogEntry>,
        installed: &'a BTreeMap<String, Version>,
        kernel_api: &'a Version,
    ) -> Resolver<'a> {
        let mut listed: BTreeMap<&str, Vec<&CatalogEntry>> = BTreeMap::new();
        for entry in available {
            let versions = listed.entry(entry.id.as_str()).or_default();
            let known = versions
                .iter()
                .any(|e| e.version.cmp_precedence(&entry.version) == Ordering::Equal);
            if !known {
                versions.push(entry);
            }
        }
        for versions in listed.values_mut() {
            versions.sort_by(|a, b| b.version.cmp(&a.version));
        }
        Resolver {
            listed,
            installed,
            kernel_api,
        }
    }

    /// The plan for installing `id` (any stable version when `requirement`
    /// is `None`).
    pub fn plan(
        &self,
        id: &str,
        requirement: Option<&VersionReq>,
    ) -> Result<InstallPlan, PackageError> {
        let mut resolution = Resolution::new(self, id);
        let req = requirement.cloned().unwrap_or(VersionReq::STAR);
        resolution.require(
            id,
            Requirement {
                by: Requirer::Request,
                req,
            },
        );
        resolution.run()?;
        Ok(resolution.plan())
    }
}

/// Shorthand for [`Resolver::new`] then [`Resolver::plan`].
pub fn resolve<'a>(
    id: &str,
    requirement: Option<&VersionReq>,
    available: impl IntoIterator<Item = &'a CatalogEntry>,
    installed: &'a BTreeMap<String, Version>,
    kernel_api: &'a Version,
) -> Result<InstallPlan, PackageError> {
    Resolver::new(available, installed, kernel_api).plan(id, requirement)
}

/// The version chosen for one extension.
#[derive(Clone, Debug, PartialEq)]
enum Choice<'a> {
    Install(&'a CatalogEntry),
    Upgrade(&'a CatalogEntry, Version),
    Keep(Version),
}

impl<'a> Choice<'a> {
    fn entry(&self) -> Option<&'a CatalogEntry> {
        match self {
            Choice::Install(entry) | Choice::Upgrade(entry, _) => Some(entry),
            Choice::Keep(_) => None,
        }
    }
}

fn satisfies_all(version: &Version, requirements: &[Requirement]) -> bool {
    requirements.iter().all(|r| r.req.matches(version))
}

fn first_unmet<'r>(version: &Version, requirements: &'r [Requirement]) -> Option<&'r Requirement> {
    requirements.iter().find(|r| !r.req.matches(version))
}

/// One planning run's state.
struct Resolution<'r, 'a> {
    resolver: &'r Resolver<'a>,
    root: String,
    /// Every requirement collected, per extension, in the order collected.
    requirements: BTreeMap<String, Vec<Requirement>>,
    choices: BTreeMap<String, Choice<'a>>,
    /// The dependencies of each extension's chosen entry.
    edges: BTreeMap<String, Vec<String>>,
    /// Extensions in the order first required (orders cycle reports).
    discovered: Vec<String>,
    queue: VecDeque<String>,
}

impl<'r, 'a> Resolution<'r, 'a> {
    fn new(resolver: &'r Resolver<'a>, root: &str) -> Resolution<'r, 'a> {
        Resolution {
            resolver,
            root: root.to_string(),
            requirements: BTreeMap::new(),
            choices: BTreeMap::new(),
            edges: BTreeMap::new(),
            discovered: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// Records a requirement and (re)queues its extension when it is new.
    fn require(&mut self, id: &str, requirement: Requirement) {
        let collected = self.requirements.entry(id.to_string()).or_default();
        if collected.contains(&requirement) {
            return;
        }
        collected.push(requirement);
        if !self.discovered.iter().any(|d| d == id) {
            self.discovered.push(id.to_string());
        }
        if !self.queue.iter().any(|q| q == id) {
            self.queue.push_back(id.to_string());
        }
    }

    /// Chooses versions until no requirement changes a choice.
    fn run(&mut self) -> Result<(), PackageError> {
        while let Some(id) = self.queue.pop_front() {
            let choice = self.choose(&id)?;
            if self.choices.get(&id) != Some(&choice) {
                self.apply(&id, choice)?;
            }
        }
        Ok(())
    }

    fn apply(&mut self, id: &str, choice: Choice<'a>) -> Result<(), PackageError> {
        let entry = choice.entry();
        self.choices.insert(id.to_string(), choice);
        let Some(entry) = entry else {
            self.edges.remove(id);
            return Ok(());
        };
        self.edges
            .insert(id.to_string(), entry.dependencies.keys().cloned().collect());
        if let Some(path) = self.cycle_through(id) {
            return Err(PackageError::DependencyCycle { path });
        }
        for (dep, req) in &entry.dependencies {
            let by = Requirer::Extension(id.to_string());
            self.require(
                dep,
                Requirement {
                    by,
                    req: req.clone(),
                },
            );
        }
        Ok(())
    }

    fn choose(&self, id: &str) -> Result<Choice<'a>, PackageError> {
        let requirements = &self.requirements[id];
        match self.resolver.installed.get(id) {
            Some(installed) if id == self.root => self.choose_for_root(id, requirements, installed),
            Some(installed) => keep_installed(id, requirements, installed),
            None => self.best(id, requirements).map(Choice::Install),
        }
    }

    /// The requested extension, installed already: upgraded when a higher
    /// version qualifies, kept when it satisfies the request, never downgraded.
    fn choose_for_root(
        &self,
        id: &str,
        requirements: &[Requirement],
        installed: &Version,
    ) -> Result<Choice<'a>, PackageError> {
        let best = self.best(id, requirements);
        match (best, first_unmet(installed, requirements)) {
            (Ok(entry), _) if entry.version > *installed => {
                Ok(Choice::Upgrade(entry, installed.clone()))
            }
            (_, None) => Ok(Choice::Keep(installed.clone())),
            (Ok(_), Some(unmet)) => Err(PackageError::Downgrade {
                id: id.to_string(),
                installed: installed.clone(),
                by: unmet.by.clone(),
                req: unmet.req.clone(),
            }),
            (Err(e), Some(_)) => Err(e),
        }
    }

    /// The highest listed version meeting every requirement that runs on this kernel.
    fn best(
        &self,
        id: &str,
        requirements: &[Requirement],
    ) -> Result<&'a CatalogEntry, PackageError> {
        let listed =
            self.resolver
                .listed
                .get(id)
                .ok_or_else(|| PackageError::UnknownExtension {
                    id: id.to_string(),
                    required_by: requirements[0].by.clone(),
                })?;
        let matching: Vec<&'a CatalogEntry> = listed
            .iter()
            .copied()
            .filter(|e| satisfies_all(&e.version, requirements))
            .collect();
        let Some(highest) = matching.first() else {
            return Err(explain_no_match(id, requirements, listed));
        };
        let kernel = self.resolver.kernel_api;
        match matching.iter().copied().find(|e| e.compatible_with(kernel)) {
            Some(entry) => Ok(entry),
            None => Err(PackageError::KernelIncompatible(Box::new(
                highest
                    .incompatibility(kernel)
                    .expect("an entry that does not run here has a mismatch"),
            ))),
        }
    }

    /// A cycle through `id` in the chosen entries' dependencies, as a path
    /// that starts and ends with the cycle's first-required extension.
    fn cycle_through(&self, id: &str) -> Option<Vec<String>> {
        for dep in self.edges.get(id).into_iter().flatten() {
            let mut visited = BTreeSet::new();
            if let Some(path) = self.path(dep, id, &mut visited) {
                let mut cycle = vec![id.to_string()];
                cycle.extend(path);
                return Some(self.rotate(cycle));
            }
        }
        None
    }

    /// A path `from` … `to` along the dependency edges.
    fn path(&self, from: &str, to: &str, visited: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if from == to {
            return Some(vec![to.to_string()]);
        }
        if !visited.insert(from.to_string()) {
            return None;
        }
        for next in self.edges.get(from).into_iter().flatten() {
            if let Some(mut rest) = self.path(next, to, visited) {
                rest.insert(0, from.to_string());
                return Some(rest);
            }
        }
        None
    }

    /// `cycle` (first == last) restarted at its earliest-required member.
    fn rotate(&self, cycle: Vec<String>) -> Vec<String> {
        let members = &cycle[..cycle.len() - 1];
        let rank = |id: &String| self.discovered.iter().position(|d| d == id);
        let start = (0..members.len())
            .min_by_key(|&i| rank(&members[i]))
            .unwrap_or(0);
        let mut rotated: Vec<String> = members[start..]
            .iter()
            .chain(&members[..start])
            .cloned()
            .collect();
        rotated.push(rotated[0].clone());
        rotated
    }

    /// The plan's extensions, each after its dependencies (depth first,
    /// dependencies in id order), reachable from the requested one.
    fn install_order(&self) -> Vec<String> {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        self.visit(&self.root, &mut seen, &mut order);
        order
    }

    fn visit(&self, id: &str, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
        if !seen.insert(id.to_string()) {
            return;
        }
        for dep in self.edges.get(id).into_iter().flatten() {
            self.visit(dep, seen, order);
        }
        order.push(id.to_string());
    }

    /// Who depends on each extension of `order`, in id order.
    fn dependents(&self, order: &[String]) -> BTreeMap<String, Vec<String>> {
        let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in order {
            for dep in self.edges.get(id).into_iter().flatten() {
                dependents.entry(dep.clone()).or_default().push(id.clone());
            }
        }
        for list in dependents.values_mut() {
            list.sort();
        }
        dependents
    }

    fn plan(&self) -> InstallPlan {
        let order = self.install_order();
        let mut dependents = self.dependents(&order);
        let mut plan = InstallPlan::default();
        for id in order {
            let required_by = dependents.remove(&id).unwrap_or_default();
            match &self.choices[&id] {
                Choice::Install(entry) => {
                    plan.steps
                        .push(step(entry, PlanAction::Install, required_by))
                }
                Choice::Upgrade(entry, from) => {
                    let action = PlanAction::Upgrade { from: from.clone() };
                    plan.steps.push(step(entry, action, required_by));
                }
                Choice::Keep(installed) => plan.satisfied.push(SatisfiedDependency {
                    id,
                    installed: installed.clone(),
                    required_by,
                }),
            }
        }
        plan
    }
}

fn step(entry: &CatalogEntry, action: PlanAction, required_by: Vec<String>) -> PlanStep {
    PlanStep {
        id: entry.id.clone(),
        version: entry.version.clone(),
        action,
        entry: entry.clone(),
        required_by,
    }
}

/// An installed dependency is kept if every requirement accepts it.
fn keep_installed(
    id: &str,
    requirements: &[Requirement],
    installed: &Version,
) -> Result<Choice<'static>, PackageError> {
    match first_unmet(installed, requirements) {
        None => Ok(Choice::Keep(installed.clone())),
        Some(unmet) => Err(PackageError::InstalledExcluded {
            id: id.to_string(),
            installed: installed.clone(),
            by: unmet.by.clone(),
            req: unmet.req.clone(),
        }),
    }
}

/// Why no listed version of `id` meets `requirements`: one requirement no
/// version meets, else two that no version meets together, else all of them.
fn explain_no_match(
    id: &str,
    requirements: &[Requirement],
    listed: &[&CatalogEntry],
) -> PackageError {
    let met_by_some = |reqs: &[&Requirement]| {
        listed
            .iter()
            .any(|e| reqs.iter().all(|r| r.req.matches(&e.version)))
    };
    if let Some(alone) = requirements.iter().find(|r| !met_by_some(&[r])) {
        let mut available: Vec<Version> = listed.iter().map(|e| e.version.clone()).collect();
        available.sort();
        return PackageError::NoMatchingVersion {
            id: id.to_string(),
            by: alone.by.clone(),
            req: alone.req.clone(),
            available,
        };
    }
    let conflicting = requirements
        .iter()
        .enumerate()
        .flat_map(|(i, a)| requirements[i + 1..].iter().map(move |b| (a, b)))
        .find(|(a, b)| !met_by_some(&[a, b]))
        .map(|(a, b)| vec![a.clone(), b.clone()])
        .unwrap_or_else(|| requirements.to_vec());
    PackageError::Conflict {
        id: id.to_string(),
        requirements: conflicting,
    }
}
