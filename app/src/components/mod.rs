//! Building blocks shared by the pages: the console chrome, error pages and
//! small UI pieces (cards, fields, badges), inline SVG charts, and the live
//! connection for notifications. They hold no data of their own, except the
//! chrome's session, open-alert count and the alerts raised while a page is
//! open.

pub mod charts;
pub mod chrome;
pub mod declarative;
pub mod errors;
pub mod live;
pub mod notifications;
pub mod theme;
pub mod ui;
