//! pyship: a Python web service in, a production container image out.
//!
//! Data flows one way: project → plan → layers → image → output.

pub mod cli;
pub mod dockerfile;
pub mod lint;
