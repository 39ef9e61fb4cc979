//! The registry: the manifests the kernel knows, and the catalogs derived from
//! them (who requests a capability, which hooks a component exposes, and who
//! handles each hook in which order).
//!
//! Guarantees: one manifest per extension id; handlers of a hook are listed in
//! a defined order (priority ascending, then extension id), the order dispatch
//! uses; loading a folder either adds every manifest in it or none, and a refusal
//! names the file.

use crate::hooks::{self, Component, HookSpec};
use crate::manifest::{HookHandler, ManifestErrors};
use crate::{Capability, Manifest};
use std::collections::BTreeMap;
use std::path::Path;

/// The file name of a manifest inside an extension folder or package.
pub const MANIFEST_FILE: &str = "magflock.toml";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Invalid(#[from] ManifestErrors),
    #[error("{file}: extension '{id}' is already registered")]
    Duplicate { file: String, id: String },
    #[error("{file}: {problem}")]
    Unreadable { file: String, problem: String },
}

#[derive(Debug, Default)]
pub struct Registry {
    extensions: BTreeMap<String, Manifest>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a validated manifest; `file` names it in errors.
    pub fn register(&mut self, manifest: Manifest, file: &str) -> Result<(), RegistryError> {
        if self.extensions.contains_key(&manifest.id) {
            return Err(RegistryError::Duplicate {
                file: file.to_string(),
                id: manifest.id,
            });
        }
        self.extensions.insert(manifest.id.clone(), manifest);
        Ok(())
    }

    /// Loads `<folder>/*/magflock.toml`: all of them, or none if any is refused.
    pub fn load_folder(&mut self, folder: &Path) -> Result<usize, RegistryError> {
        let unreadable = |file: &Path, e: std::io::Error| RegistryError::Unreadable {
            file: file.display().to_string(),
            problem: e.to_string(),
        };
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .map_err(|e| unreadable(folder, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path().join(MANIFEST_FILE)))
            .filter(|file| file.is_file())
            .collect();
        files.sort();
        let mut staged = Registry {
            extensions: self.extensions.clone(),
        };
        for file in &files {
            let text = std::fs::read_to_string(file).map_err(|e| unreadable(file, e))?;
            let name = file.display().to_string();
            staged.register(Manifest::parse(&text, &name)?, &name)?;
        }
        *self = staged;
        Ok(files.len())
    }

    pub fn unregister(&mut self, id: &str) -> Option<Manifest> {
        self.extensions.remove(id)
    }

    pub fn get(&self, id: &str) -> Option<&Manifest> {
        self.extensions.get(id)
    }

    pub fn extensions(&self) -> impl Iterator<Item = &Manifest> {
        self.extensions.values()
    }

    /// Extensions whose manifest requests `capability` (what an admin granted is
    /// the policy gate's business).
    pub fn requesting(&self, capability: Capability) -> Vec<&str> {
        self.extensions
            .values()
            .filter(|m| m.requests(capability))
            .map(|m| m.id.as_str())
            .collect()
    }

    /// Who handles `hook`, in dispatch order.
    pub fn handlers(&self, hook: &str) -> Vec<(&str, &HookHandler)> {
        let mut found: Vec<(&str, &HookHandler)> = self
            .extensions
            .values()
            .flat_map(|m| {
                m.hooks
                    .iter()
                    .filter(|h| h.hook.name == hook)
                    .map(move |h| (m.id.as_str(), h))
            })
            .collect();
        found.sort_by(|a, b| a.1.priority.cmp(&b.1.priority).then(a.0.cmp(b.0)));
        found
    }

    /// The hooks `component` exposes, each with its handlers in dispatch order.
    pub fn hook_catalog(&self, component: Component) -> Vec<(&'static HookSpec, Vec<&str>)> {
        hooks::of_component(component)
            .map(|spec| {
                (
                    spec,
                    self.handlers(spec.name)
                        .into_iter()
                        .map(|(id, _)| id)
                        .collect(),
                )
            })
            .collect()
    }
}
