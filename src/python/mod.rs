//! What pyship knows about a Python service: its project and lockfile, the target it
//! runs on, its source files and how it starts, and how its wheels are chosen,
//! downloaded and installed into a virtual environment.

pub mod bytecode;
pub mod download;
pub mod entrypoint;
pub mod index;
pub mod interpreter;
pub mod lock;
pub mod project;
pub mod source;
pub mod target;
pub mod venv;
pub mod wheel;
