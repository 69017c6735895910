//! pyship: a Python web service in, a production container image out.
//!
//! Data flows one way: project → plan → layers → image → output.

pub mod base;
pub mod cache;
pub mod cli;
pub mod http;
pub mod inspect;
pub mod layer;
pub mod lock;
pub mod progress;
pub mod project;
pub mod reference;
pub mod registry;
pub mod target;
pub mod venv;
pub mod wheel;
