//! The memory cap. A custom [`wasmtime::ResourceLimiter`] (rather than
//! `StoreLimits`) so a refused growth is recorded with its size and the
//! kernel can say exactly what happened.

use wasmtime::ResourceLimiter;

pub(crate) struct MemoryCap {
    pub cap_bytes: u64,
    /// Set when a growth past the cap was refused.
    pub refused: Option<u64>,
    /// The size of the largest memory the instance has now.
    pub current_bytes: u64,
}

impl MemoryCap {
    pub fn new(cap_mb: u64) -> MemoryCap {
        MemoryCap {
            cap_bytes: cap_mb << 20,
            refused: None,
            current_bytes: 0,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.cap_bytes {
            self.refused = Some(desired as u64);
            return Ok(false);
        }
        self.current_bytes = self.current_bytes.max(desired as u64);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
