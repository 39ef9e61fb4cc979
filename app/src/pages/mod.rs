//! One module per console page. A page fetches through `crate::api`, shows errors
//! with `components::errors`, and hides controls the caller's role cannot use.

pub mod account;
pub mod audit;
pub mod dashboard;
pub mod login;
pub mod placeholder;
pub mod settings;
pub mod setup;
pub mod trust;
pub mod users;
