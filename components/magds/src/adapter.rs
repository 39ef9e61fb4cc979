//! The MagDS adapter (seed section 6): the kernel has already checked the
//! capability of each `database.*` host call; this translates the call to
//! MagDS and back, and nothing else.
//!
//! Guarantees: an extension reaches only the project database it is bound
//! to (its configuration's `project`); `query`, `execute` and `apply_ddl`
//! run through [`QueryRunner::run`] — the parser and the extension's own
//! database role, with the extension's live grant — and publish
//! `database.query.executed` (visible only to subscribers holding
//! `database.read`); `create_database` / `drop_database` go through MagDS's
//! own API (and so its hooks). Each interface runs only its own kind of
//! statement (`query` reads, `execute` writes, `apply_ddl` changes the
//! schema), whatever else the extension holds. Errors come back to the
//! extension as messages;
//! nothing here traps. Must be called on a blocking thread (host calls are).

use magflock_kernel::adapter::{Adapter, AdapterCall};
use magflock_kernel::event::{Context, Source};
use magflock_kernel::{Capability, Component, Event};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;

use crate::events::EventSink;
use crate::projects::MagDs;
use crate::query::{QueryEvent, QueryEventSink, QueryRunner};

/// Which project an extension works on (`None`: not bound to one).
pub type ProjectBinding = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;
/// The extension's live grant (the policy gate).
pub type LiveGrant = Arc<dyn Fn(&str) -> Vec<Capability> + Send + Sync>;

pub struct MagDsAdapter {
    magds: Arc<MagDs>,
    runtime: Handle,
    binding: ProjectBinding,
    granted: LiveGrant,
    events: Arc<dyn EventSink>,
    runners: Mutex<HashMap<String, Arc<QueryRunner>>>,
}

impl MagDsAdapter {
    /// Call on the runtime that will serve the adapter's async work.
    pub fn new(
        magds: Arc<MagDs>,
        binding: ProjectBinding,
        granted: LiveGrant,
        events: Arc<dyn EventSink>,
    ) -> MagDsAdapter {
        MagDsAdapter {
            magds,
            runtime: Handle::current(),
            binding,
            granted,
            events,
            runners: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `future` from a guest call: on a blocking thread or, through
    /// `block_in_place`, on an async worker running a quick call inline.
    fn wait<F: std::future::Future>(&self, future: F) -> F::Output {
        tokio::task::block_in_place(|| self.runtime.block_on(future))
    }

    /// One runner per project database, shared by every extension.
    fn runner(&self, project: &str) -> Result<Arc<QueryRunner>, String> {
        if let Some(runner) = self.runners.lock().expect("runners").get(project) {
            return Ok(runner.clone());
        }
        let url = self
            .wait(self.magds.database_url(project))
            .map_err(|e| e.to_string())?;
        let sink: Arc<dyn QueryEventSink> = Arc::new(Publish {
            events: self.events.clone(),
            runtime: self.runtime.clone(),
            project: project.to_string(),
        });
        let runner = self
            .wait(QueryRunner::connect(&url))
            .map_err(|e| e.to_string())?
            .with_event_sink(sink);
        let runner = Arc::new(runner);
        self.runners
            .lock()
            .expect("runners")
            .insert(project.to_string(), runner.clone());
        Ok(runner)
    }

    fn project_of(&self, extension: &str) -> Result<String, String> {
        (self.binding)(extension).ok_or_else(|| {
            format!("{extension} is not bound to a project: set \"project\" in its configuration")
        })
    }

    fn run_sql(&self, call: &AdapterCall, args: &Value) -> Result<String, String> {
        let sql = args["sql"].as_str().ok_or("the call carries no SQL")?;
        let params: Vec<Value> = args["params"].as_array().cloned().unwrap_or_default();
        let project = self.project_of(&call.extension)?;
        let runner = self.runner(&project)?;
        // The interface decides the kind of statement: `query` reads,
        // `execute` writes, `apply_ddl` changes the schema, each within the
        // live grant; a write smuggled through `query` is refused even when
        // the extension holds database.write. The extension's database role
        // holds its whole live database grant, so interleaved calls through
        // different interfaces never change the role under each other.
        let granted: Vec<Capability> = (self.granted)(&call.extension)
            .into_iter()
            .filter(|c| c.family() == "database")
            .collect();
        let allowed: Vec<Capability> = granted
            .iter()
            .copied()
            .filter(|c| *c == call.capability)
            .collect();
        let result = self
            .wait(runner.run_within(&call.extension, &granted, &allowed, sql, &params))
            .map_err(|e| e.to_string())?;
        Ok(match call.operation.as_str() {
            "query" => result.rows_json(),
            "execute" => result.rows_affected.to_string(),
            _ => String::new(),
        })
    }
}

impl Adapter for MagDsAdapter {
    fn component(&self) -> Component {
        Component::MagDs
    }

    fn execute(&self, call: &AdapterCall) -> Result<String, String> {
        let args: Value = serde_json::from_str(&call.args).map_err(|e| e.to_string())?;
        match call.operation.as_str() {
            "query" | "execute" | "apply_ddl" => self.run_sql(call, &args),
            "create_database" => {
                let name = args["name"].as_str().ok_or("the call carries no name")?;
                self.wait(self.magds.create_project(name, &call.extension, Vec::new()))
                    .map(|_| String::new())
                    .map_err(|e| e.to_string())
            }
            "drop_database" => {
                let name = args["name"].as_str().ok_or("the call carries no name")?;
                self.wait(self.magds.drop_project(name))
                    .map(|_| String::new())
                    .map_err(|e| e.to_string())
            }
            other => Err(format!("MagDS has no operation '{other}'")),
        }
    }
}

/// `database.query.executed`, published through MagDS's event sink.
struct Publish {
    events: Arc<dyn EventSink>,
    runtime: Handle,
    project: String,
}

impl QueryEventSink for Publish {
    fn query_executed(&self, event: &QueryEvent) {
        let source = Source {
            component: "magds".into(),
            extension: Some(event.extension.clone()),
        };
        let context = Context {
            project_id: Some(self.project.clone()),
            ..Context::default()
        };
        match Event::new(
            "database.query.executed",
            source,
            event.data(),
            context,
            vec![Capability::DatabaseRead],
        ) {
            Ok(event) => {
                let events = self.events.clone();
                self.runtime
                    .spawn(async move { events.publish(event).await });
            }
            Err(e) => tracing::error!("database.query.executed: {e}"),
        }
    }
}
