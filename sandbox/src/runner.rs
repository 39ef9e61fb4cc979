//! The sandbox as the kernel's [`HookRunner`]: hook dispatch calls guests
//! through here, on warm instances.

use magflock_kernel::dispatch::{HookOutcome, HookRunner};

use crate::{CallMode, Sandbox};

impl HookRunner for Sandbox {
    fn run_hook(&self, extension: &str, hook: &str, payload: &str) -> Result<HookOutcome, String> {
        let loaded = self.get(extension).map_err(|e| e.to_string())?;
        loaded
            .handle_hook(hook, payload, CallMode::Warm)
            .map_err(|e| e.to_string())
    }
}
