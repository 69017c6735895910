//! pyship: a Python web service in, a production container image out.
//!
//! Data flows one way: project → plan → layers → image → output.

pub mod base;
pub mod build;
pub mod cache;
pub mod cli;
pub mod dockerfile;
pub mod dockerignore;
pub mod download;
pub mod entrypoint;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod image;
pub mod init;
pub mod inspect;
pub mod layer;
pub mod layer_read;
pub mod lint;
pub mod lock;
pub mod output;
pub mod progress;
pub mod project;
pub mod reference;
pub mod registry;
pub mod secrets;
pub mod source;
pub mod target;
pub mod venv;
pub mod verify;
pub mod wheel;
