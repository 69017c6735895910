//! pyship: a Python web service in, a production container image out.
//!
//! Data flows one way: project → plan → layers → image → output.

pub mod cache;
pub mod cli;
pub mod layer;
pub mod lock;
pub mod project;
pub mod target;
pub mod venv;
pub mod wheel;
