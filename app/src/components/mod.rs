//! Building blocks shared by the pages: the console chrome, error pages and
//! small UI pieces (cards, fields, badges). They hold no data of their own,
//! except the chrome's session and open-alert count.

pub mod chrome;
pub mod errors;
pub mod theme;
pub mod ui;
