//! The light/dark switch. The choice is saved in the browser (`magflock-theme`)
//! and applied before first paint by the shell's boot script.

use leptos::prelude::*;

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let dark = RwSignal::new(false);
    // After hydration, read what the boot script decided.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        dark.set(
            document()
                .document_element()
                .map(|root| root.class_list().contains("dark"))
                .unwrap_or(false),
        );
    });
    let toggle = move |_| {
        let now_dark = !dark.get_untracked();
        dark.set(now_dark);
        #[cfg(feature = "hydrate")]
        {
            if let Some(root) = document().document_element() {
                let _ = root.class_list().toggle_with_force("dark", now_dark);
            }
            if let Ok(Some(storage)) = window().local_storage() {
                let _ = storage.set_item("magflock-theme", if now_dark { "dark" } else { "light" });
            }
        }
    };
    view! {
        <button
            type="button"
            data-testid="theme-toggle"
            aria-pressed=move || dark.get().to_string()
            title="Switch between light and dark mode"
            on:click=toggle
            class="rounded-md border border-slate-300 px-2.5 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-500 dark:border-slate-700 dark:text-slate-200 dark:hover:bg-slate-800"
        >
            {move || if dark.get() { "Light mode" } else { "Dark mode" }}
        </button>
    }
}
