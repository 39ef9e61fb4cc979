//! Pages whose features arrive with later work say so plainly.

use crate::components::ui::{Card, PageHeader};
use leptos::prelude::*;

#[component]
pub fn NotYetBuilt(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <PageHeader title=title/>
        <Card>
            <p class="text-sm text-slate-600 dark:text-slate-300" data-testid="not-yet-built">
                {format!("This page is not built yet. When it is, it will let you {what}.")}
            </p>
        </Card>
    }
}
