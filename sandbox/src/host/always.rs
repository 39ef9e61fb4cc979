//! `log` and `kv`: what every extension has without a capability. Both are
//! scoped to the calling extension.

use crate::bindings::magflock::extension::{kv, log, types::LogLevel};
use crate::state::HostState;

const MAX_KEY: usize = 256;
const MAX_VALUE: usize = 64 * 1024;
const MAX_LOG_LINE: usize = 4096;

impl log::Host for HostState {
    fn write(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let extension = &*self.extension;
        match level {
            LogLevel::Trace => tracing::trace!(extension, "{message}"),
            LogLevel::Debug => tracing::debug!(extension, "{message}"),
            LogLevel::Info => tracing::info!(extension, "{message}"),
            LogLevel::Warn => tracing::warn!(extension, "{message}"),
            LogLevel::Error => tracing::error!(extension, "{message}"),
        }
        Ok(())
    }
}

impl kv::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.services.kv.get(&self.extension, &key).unwrap_or(None))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        if key.is_empty() || key.len() > MAX_KEY {
            return Ok(Err(format!("keys must be 1 to {MAX_KEY} bytes")));
        }
        if value.len() > MAX_VALUE {
            return Ok(Err(format!(
                "value of {} bytes is over the {MAX_VALUE}-byte limit",
                value.len()
            )));
        }
        Ok(self.services.kv.set(&self.extension, &key, &value))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), String>> {
        Ok(self.services.kv.delete(&self.extension, &key))
    }

    fn keys(&mut self, prefix: String) -> wasmtime::Result<Vec<String>> {
        Ok(self
            .services
            .kv
            .keys(&self.extension, &prefix)
            .unwrap_or_default())
    }
}
