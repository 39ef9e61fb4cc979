//! Widgets and panels from MagUI: which running extensions contribute them,
//! their views (rendered in the sandbox), each user's Dashboard layout, and
//! the commands the views' buttons and forms run.
//!
//! Guarantees: an extension's widget or panel is offered only while the
//! extension may run and holds `ui.register_widget` / `ui.register_panel`
//! (checked at each render, so a live revoke removes it at the next load);
//! `register_widget` / `register_panel` fire with the user when the Dashboard
//! or navigation is built; an extension's answer is read with
//! [`ViewNode::parse`] and a bad one becomes that widget's error, never the
//! page's; a view's command runs only if the extension declares it
//! (`contributes.commands` in its signed manifest), only for admins and
//! owners, and is audited (`extension.command_run`, via MagUI) with its
//! outcome; saving a layout is audited too.

use super::audit::record;
use super::console::{Console, console};
use super::guard::{Caller, ctx, require};
use crate::AppError;
use crate::api::widgets::{
    DashboardLayout, DashboardView, PanelLink, PanelView, Widget, widget_key,
};
use crate::view_tree::ViewNode;
use magflock_kernel::Capability;
use magflock_kernel::manifest::ContributionKind;
use magflock_sandbox::{CallMode, LoadedExtension, SandboxError};
use magflock_types::{Outcome, Role};
use serde_json::json;
use std::sync::Arc;

/// The preference key of the Dashboard layout.
const LAYOUT: &str = "dashboard_layout";
/// The dashboard MagUI has (the hook's `dashboard` field).
const DASHBOARD: &str = "main";
/// The navigation section panels are listed in (the hook's `section` field).
const SECTION: &str = "extensions";

/// A contribution of a running extension that holds the capability for it.
struct Slot {
    loaded: Arc<LoadedExtension>,
    id: String,
    title: String,
}

/// The `kind` contributions of running extensions allowed to show them, in
/// extension then manifest order.
fn slots(console: &Console, kind: ContributionKind) -> Vec<Slot> {
    let capability = match kind {
        ContributionKind::Widget => Capability::UiRegisterWidget,
        _ => Capability::UiRegisterPanel,
    };
    let gate = &console.kernel.gate;
    let mut loaded = console.kernel.sandbox.loaded();
    loaded.sort_by(|a, b| a.id().cmp(b.id()));
    loaded
        .into_iter()
        .filter(|l| gate.may_run(l.id()).is_ok() && gate.check(l.id(), capability).is_ok())
        .flat_map(|l| {
            let items: Vec<(String, String)> = l
                .manifest()
                .contributions
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| {
                    (
                        c.id.clone(),
                        c.title.clone().unwrap_or_else(|| c.id.clone()),
                    )
                })
                .collect();
            items.into_iter().map(move |(id, title)| Slot {
                loaded: l.clone(),
                id,
                title,
            })
        })
        .collect()
}

/// Offers `hook` to its handlers (an action: the outcome is only logged).
async fn announce(console: &Console, hook: &'static str, payload: serde_json::Value) {
    if let Err(e) = console.kernel.dispatch(hook, &payload).await {
        tracing::warn!("{hook} hook: {e}");
    }
}

/// Renders `slot` in the sandbox with `props`; the answer read as a view.
async fn render(slot: &Slot, props: serde_json::Value) -> Result<ViewNode, String> {
    let loaded = slot.loaded.clone();
    let id = slot.id.clone();
    let answer = tokio::task::spawn_blocking(move || loaded.render_widget(&id, &props.to_string()))
        .await
        .map_err(|e| format!("the extension's call did not finish: {e}"))?;
    match answer {
        Ok(json) => ViewNode::parse(&json),
        Err(SandboxError::Guest { message, .. }) => Err(format!("the extension said: {message}")),
        Err(other) => Err(other.to_string()),
    }
}

async fn layout_of(caller: &Caller) -> Result<DashboardLayout, AppError> {
    let saved = ctx()?.store.preference(&caller.user.id, LAYOUT).await?;
    // A layout this version cannot read is treated as none (the default order).
    Ok(saved
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

pub async fn dashboard() -> Result<DashboardView, AppError> {
    let caller = require(Role::Auditor).await?;
    let console = console()?;
    announce(
        &console,
        "register_widget",
        json!({"dashboard": DASHBOARD, "user_id": caller.user.id}),
    )
    .await;
    let layout = layout_of(&caller).await?;
    let mut widgets = Vec::new();
    for slot in slots(&console, ContributionKind::Widget) {
        let extension = slot.loaded.id().to_string();
        let key = widget_key(&extension, &slot.id);
        let hidden = layout.hidden.contains(&key);
        let view = if hidden {
            Err("Hidden.".to_string())
        } else {
            render(
                &slot,
                json!({"dashboard": DASHBOARD, "user_id": caller.user.id}),
            )
            .await
        };
        widgets.push(Widget {
            key,
            extension,
            widget: slot.id,
            title: slot.title,
            hidden,
            view,
        });
    }
    // The saved order first, widgets new since then after, in their own order.
    let position = |key: &str| {
        layout
            .order
            .iter()
            .position(|k| k == key)
            .unwrap_or(usize::MAX)
    };
    widgets.sort_by_key(|w| position(&w.key));
    Ok(DashboardView {
        widgets,
        can_act: caller.user.role.at_least(Role::Admin),
    })
}

pub async fn save_layout(text: &str) -> Result<DashboardLayout, AppError> {
    let caller = require(Role::Auditor).await?;
    let layout: DashboardLayout = serde_json::from_str(text).map_err(|e| {
        AppError::invalid(
            "layout",
            format!(
                "The layout is not valid: {e}. Expected {{\"order\": [keys], \"hidden\": [keys]}}."
            ),
        )
    })?;
    let too_many = layout.order.len() > 200 || layout.hidden.len() > 200;
    let bad_key = layout
        .order
        .iter()
        .chain(&layout.hidden)
        .find(|k| k.len() > 300 || !k.contains('#'));
    if too_many {
        return Err(AppError::invalid(
            "layout",
            "The layout names more than 200 widgets.",
        ));
    }
    if let Some(key) = bad_key {
        return Err(AppError::invalid(
            "layout",
            format!("'{key}' is not a widget key (<extension>#<widget>)."),
        ));
    }
    let saved = serde_json::to_string(&layout).map_err(AppError::internal)?;
    ctx()?
        .store
        .preference_set(&caller.user.id, LAYOUT, &saved)
        .await?;
    record(
        &caller.actor(),
        "ui.dashboard_layout_saved",
        None,
        Outcome::Success,
        json!({"widgets": layout.order.len(), "hidden": layout.hidden.len()}),
    )
    .await?;
    Ok(layout)
}

pub async fn panels() -> Result<Vec<PanelLink>, AppError> {
    let caller = require(Role::Auditor).await?;
    let console = console()?;
    announce(
        &console,
        "register_panel",
        json!({"section": SECTION, "user_id": caller.user.id}),
    )
    .await;
    Ok(slots(&console, ContributionKind::Panel)
        .into_iter()
        .map(|slot| PanelLink {
            extension: slot.loaded.id().to_string(),
            panel: slot.id,
            title: slot.title,
        })
        .collect())
}

pub async fn panel(extension: &str, panel: &str) -> Result<PanelView, AppError> {
    let caller = require(Role::Auditor).await?;
    let console = console()?;
    let slot = slots(&console, ContributionKind::Panel)
        .into_iter()
        .find(|s| s.loaded.id() == extension && s.id == panel)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "No running extension '{extension}' shows a panel '{panel}' (it may be disabled, or its ui.register_panel capability revoked)."
            ))
        })?;
    let view = render(
        &slot,
        json!({"section": SECTION, "user_id": caller.user.id}),
    )
    .await;
    Ok(PanelView {
        extension: extension.to_string(),
        panel: panel.to_string(),
        title: slot.title,
        view,
        can_act: caller.user.role.at_least(Role::Admin),
    })
}

pub async fn run_command(extension: &str, command: &str, args: &str) -> Result<String, AppError> {
    let caller = require(Role::Admin).await?;
    let args: Vec<String> = serde_json::from_str(args).map_err(|e| {
        AppError::invalid(
            "args",
            format!("The arguments must be a JSON array of strings: {e}."),
        )
    })?;
    let console = console()?;
    let loaded = console
        .kernel
        .sandbox
        .get(extension)
        .ok()
        .filter(|l| console.kernel.gate.may_run(l.id()).is_ok())
        .ok_or_else(|| AppError::NotFound(format!("Extension '{extension}' is not running.")))?;
    let declared = loaded
        .manifest()
        .contributions
        .iter()
        .any(|c| c.kind == ContributionKind::Command && c.id == command);
    if !declared {
        return Err(AppError::invalid(
            "command",
            format!("Extension '{extension}' declares no command '{command}'."),
        ));
    }
    let output = {
        let loaded = loaded.clone();
        let command = command.to_string();
        let args = args.clone();
        tokio::task::spawn_blocking(move || loaded.run_command(&command, &args, CallMode::Warm))
            .await
            .map_err(AppError::internal)?
    };
    let (outcome, detail) = match &output {
        Ok(_) => (
            Outcome::Success,
            json!({"command": command, "args": args.len(), "via": "magui"}),
        ),
        Err(e) => (
            Outcome::Failure,
            json!({"command": command, "error": e.to_string(), "via": "magui"}),
        ),
    };
    record(
        &caller.actor(),
        "extension.command_run",
        Some(extension),
        outcome,
        detail,
    )
    .await?;
    output.map_err(|e| match e {
        SandboxError::Guest { message, .. } => {
            AppError::Conflict(format!("{extension} could not run '{command}': {message}"))
        }
        other => AppError::Conflict(super::console::capitalised(&other.to_string())),
    })
}
