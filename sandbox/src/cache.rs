//! Compiled components, cached on disk.
//!
//! Guarantees: an artifact is keyed by the engine's compatibility hash and the
//! component's SHA-256, so a changed component or engine never loads a stale
//! artifact; artifacts are written atomically (temporary file, then rename);
//! only files this cache wrote are ever deserialised (packages never ship
//! precompiled code); an unreadable artifact is recompiled, not trusted;
//! artifacts are read into memory, never mapped, so changing a file on disk
//! cannot crash a running kernel.

use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::SandboxError;

pub(crate) fn compile(
    engine: &Engine,
    wasm: &[u8],
    cache_dir: Option<&Path>,
) -> Result<Component, SandboxError> {
    let Some(dir) = cache_dir else {
        return Component::new(engine, wasm).map_err(invalid);
    };
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let file = dir.join(format!(
        "{}-{:016x}.cwasm",
        hex::encode(Sha256::digest(wasm)),
        hasher.finish()
    ));
    // Read into memory rather than mapping the file: a mapped artifact that
    // is truncated or rewritten in place would crash the process (SIGBUS).
    if let Ok(bytes) = std::fs::read(&file) {
        // SAFETY: the file is in the kernel's own cache directory and was
        // written by `precompile_component` below for this engine's
        // configuration (its name carries the compatibility hash); wasmtime
        // checks the header and refuses an artifact that is not one.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(file = %file.display(), "recompiling a cached component: {e}"),
        }
    }
    let artifact = engine.precompile_component(wasm).map_err(invalid)?;
    if let Err(e) = write_atomically(dir, &file, &artifact) {
        tracing::warn!(dir = %dir.display(), "cannot cache a compiled component: {e}");
    }
    // SAFETY: `artifact` was produced just now by this engine.
    unsafe { Component::deserialize(engine, &artifact) }.map_err(invalid)
}

fn write_atomically(dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, file)
}

fn invalid(e: wasmtime::Error) -> SandboxError {
    SandboxError::Component(format!("not a valid extension component: {e:#}"))
}
