//! What pyship knows about a Python service: its project and lockfile, the target it
//! runs on, its source files and how it starts, and how its wheels are chosen,
//! downloaded, built from source when need be, and installed into a virtual environment.

pub mod bytecode;
pub mod download;
pub mod entrypoint;
pub mod index;
pub mod interpreter;
pub mod linkage;
pub mod lock;
pub mod pep517;
pub mod poetry_constraint;
pub mod project;
pub mod requires;
pub mod simple_api;
pub mod source;
pub mod target;
pub mod venv;
pub mod wheel;
pub mod workspace;
