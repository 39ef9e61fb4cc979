//! `database.*`: handed to the MagDS adapter after the gate check.

use magflock_kernel::{Capability, Component};
use serde_json::json;

use crate::bindings::magflock::extension::{
    database_admin, database_read, database_schema, database_write,
};
use crate::state::HostState;

impl database_read::Host for HostState {
    fn query(
        &mut self,
        sql: String,
        params: Vec<String>,
    ) -> wasmtime::Result<Result<String, String>> {
        self.allow(Capability::DatabaseRead, "database-read.query")?;
        Ok(self.adapter(
            Component::MagDs,
            Capability::DatabaseRead,
            "query",
            json!({"sql": sql, "params": params}),
        ))
    }
}

impl database_write::Host for HostState {
    fn execute(
        &mut self,
        sql: String,
        params: Vec<String>,
    ) -> wasmtime::Result<Result<u64, String>> {
        self.allow(Capability::DatabaseWrite, "database-write.execute")?;
        Ok(self
            .adapter(
                Component::MagDs,
                Capability::DatabaseWrite,
                "execute",
                json!({"sql": sql, "params": params}),
            )
            .and_then(|n| {
                n.trim()
                    .parse::<u64>()
                    .map_err(|e| format!("MagDS answered '{n}': {e}"))
            }))
    }
}

impl database_schema::Host for HostState {
    fn apply_ddl(&mut self, sql: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::DatabaseSchema, "database-schema.apply-ddl")?;
        Ok(self.adapter_unit(
            Component::MagDs,
            Capability::DatabaseSchema,
            "apply_ddl",
            json!({"sql": sql}),
        ))
    }
}

impl database_admin::Host for HostState {
    fn create_database(&mut self, name: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::DatabaseAdmin, "database-admin.create-database")?;
        Ok(self.adapter_unit(
            Component::MagDs,
            Capability::DatabaseAdmin,
            "create_database",
            json!({"name": name}),
        ))
    }

    fn drop_database(&mut self, name: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::DatabaseAdmin, "database-admin.drop-database")?;
        Ok(self.adapter_unit(
            Component::MagDs,
            Capability::DatabaseAdmin,
            "drop_database",
            json!({"name": name}),
        ))
    }
}
