//! `system.*`: background jobs and cron schedules (queued with the kernel's
//! scheduler) and custom metrics (the kernel's metrics registry).

use magflock_kernel::Capability;

use crate::bindings::magflock::extension::{system_cron, system_jobs, system_metrics};
use crate::state::HostState;

const MAX_NAME: usize = 128;

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(format!(
            "names must be 1 to {MAX_NAME} printable characters"
        ));
    }
    Ok(())
}

impl system_jobs::Host for HostState {
    fn enqueue(
        &mut self,
        command: String,
        args: Vec<String>,
    ) -> wasmtime::Result<Result<String, String>> {
        self.allow(Capability::SystemBackgroundJobs, "system-jobs.enqueue")?;
        Ok(check_name(&command).and_then(|_| {
            self.services
                .scheduler
                .enqueue(&self.extension, &command, args)
        }))
    }
}

impl system_cron::Host for HostState {
    fn schedule(
        &mut self,
        name: String,
        cron: String,
        command: String,
    ) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::SystemCronSchedule, "system-cron.schedule")?;
        Ok(check_name(&name).and_then(|_| {
            self.services
                .scheduler
                .schedule(&self.extension, &name, &cron, &command)
        }))
    }

    fn unschedule(&mut self, name: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::SystemCronSchedule, "system-cron.unschedule")?;
        Ok(self.services.scheduler.unschedule(&self.extension, &name))
    }
}

impl system_metrics::Host for HostState {
    fn counter(&mut self, name: String, delta: u64) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::SystemMetrics, "system-metrics.counter")?;
        Ok(check_name(&name).map(|_| self.services.metrics.add(&self.extension, &name, delta)))
    }

    fn gauge(&mut self, name: String, value: f64) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::SystemMetrics, "system-metrics.gauge")?;
        if !value.is_finite() {
            return Ok(Err("gauge values must be finite".into()));
        }
        Ok(check_name(&name).map(|_| self.services.metrics.set(&self.extension, &name, value)))
    }
}
