//! One module per console page. A page fetches through `crate::api`, shows errors
//! with `components::errors`, and hides controls the caller's role cannot use.

pub mod account;
pub mod approvals;
pub mod audit;
pub mod dashboard;
pub mod events;
pub mod extensions;
pub mod health;
pub mod login;
pub mod marketplace;
pub mod on_demand;
pub mod projects;
pub mod schema;
pub mod settings;
pub mod setup;
pub mod sign_in;
pub mod trust;
pub mod users;
pub mod widgets;
