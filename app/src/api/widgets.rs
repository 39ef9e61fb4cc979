//! Widgets and panels: what running extensions holding `ui.register_widget`
//! or `ui.register_panel` contribute to the Dashboard and the navigation, as
//! declarative views ([`ViewNode`]), the Dashboard layout each user keeps,
//! and the commands their buttons and forms run.

use super::Access;
use crate::AppError;
use crate::view_tree::ViewNode;
use leptos::prelude::*;
use magflock_types::Role;
use serde::{Deserialize, Serialize};

pub const ENDPOINTS: &[(&str, Access)] = &[
    ("/api/dashboard_widgets", Access::AtLeast(Role::Auditor)),
    ("/api/save_dashboard_layout", Access::AtLeast(Role::Auditor)),
    ("/api/list_panels", Access::AtLeast(Role::Auditor)),
    ("/api/render_panel", Access::AtLeast(Role::Auditor)),
    ("/api/run_view_command", Access::AtLeast(Role::Admin)),
];

/// One widget on the Dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Widget {
    /// `<extension>#<widget id>`: what the layout names.
    pub key: String,
    pub extension: String,
    pub widget: String,
    pub title: String,
    /// Hidden by this user (listed so it can be shown again).
    pub hidden: bool,
    /// The view, or why it cannot be shown.
    pub view: Result<ViewNode, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    /// In this user's order: the saved order first, new widgets after.
    pub widgets: Vec<Widget>,
    /// Whether the caller's role may run the widgets' commands.
    pub can_act: bool,
}

/// A user's Dashboard arrangement: widget keys in order, and the hidden ones.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardLayout {
    #[serde(default)]
    pub order: Vec<String>,
    #[serde(default)]
    pub hidden: Vec<String>,
}

/// A panel in the navigation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelLink {
    pub extension: String,
    pub panel: String,
    pub title: String,
}

impl PanelLink {
    /// Where the panel's page is.
    pub fn href(&self) -> String {
        format!("/panels/{}/{}", self.extension, self.panel)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    pub extension: String,
    pub panel: String,
    pub title: String,
    pub view: Result<ViewNode, String>,
    pub can_act: bool,
}

/// The key of an extension's widget in a layout.
pub fn widget_key(extension: &str, widget: &str) -> String {
    format!("{extension}#{widget}")
}

/// The Dashboard's widgets for the caller, each rendered by its extension.
#[server(endpoint = "dashboard_widgets", output = crate::api::codec::Json)]
pub async fn dashboard_widgets() -> Result<DashboardView, AppError> {
    crate::server::respond(crate::server::widgets::dashboard().await)
}

/// Saves the caller's arrangement; `layout` is a [`DashboardLayout`] as JSON.
#[server(endpoint = "save_dashboard_layout", output = crate::api::codec::Json)]
pub async fn save_dashboard_layout(layout: String) -> Result<DashboardLayout, AppError> {
    crate::server::respond(crate::server::widgets::save_layout(&layout).await)
}

/// The panels running extensions contribute, for the navigation.
#[server(endpoint = "list_panels", output = crate::api::codec::Json)]
pub async fn list_panels() -> Result<Vec<PanelLink>, AppError> {
    crate::server::respond(crate::server::widgets::panels().await)
}

/// One panel, rendered by its extension.
#[server(endpoint = "render_panel", output = crate::api::codec::Json)]
pub async fn render_panel(extension: String, panel: String) -> Result<PanelView, AppError> {
    crate::server::respond(crate::server::widgets::panel(&extension, &panel).await)
}

/// Runs a command a widget's or panel's button or form named; `args` is a
/// JSON array of strings. Returns the command's output.
#[server(endpoint = "run_view_command", output = crate::api::codec::Json)]
pub async fn run_view_command(
    extension: String,
    command: String,
    args: String,
) -> Result<String, AppError> {
    crate::server::respond(crate::server::widgets::run_command(&extension, &command, &args).await)
}
