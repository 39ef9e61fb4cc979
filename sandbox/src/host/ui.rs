//! `ui.*`: handed to the MagUI adapter after the gate check.

use magflock_kernel::{Capability, Component};
use serde_json::json;

use crate::bindings::magflock::extension::{ui_panels, ui_schema, ui_widgets};
use crate::state::HostState;

impl ui_widgets::Host for HostState {
    fn refresh(&mut self, widget_id: String) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::UiRegisterWidget, "ui-widgets.refresh")?;
        Ok(self.adapter_unit(
            Component::MagUi,
            Capability::UiRegisterWidget,
            "refresh_widget",
            json!({"widget": widget_id}),
        ))
    }
}

impl ui_panels::Host for HostState {
    fn notify(
        &mut self,
        panel_id: String,
        message: String,
    ) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::UiRegisterPanel, "ui-panels.notify")?;
        Ok(self.adapter_unit(
            Component::MagUi,
            Capability::UiRegisterPanel,
            "notify_panel",
            json!({"panel": panel_id, "message": message}),
        ))
    }
}

impl ui_schema::Host for HostState {
    fn annotate(
        &mut self,
        table: String,
        column: Option<String>,
        note: String,
    ) -> wasmtime::Result<Result<(), String>> {
        self.allow(Capability::UiModifySchema, "ui-schema.annotate")?;
        Ok(self.adapter_unit(
            Component::MagUi,
            Capability::UiModifySchema,
            "annotate_schema",
            json!({"table": table, "column": column, "note": note}),
        ))
    }
}
