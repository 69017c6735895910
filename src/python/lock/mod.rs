//! Lockfiles: one reader per kind, each yielding the pinned distributions a target
//! needs. A new lockfile kind is a new file here.

pub mod uv;

pub use uv::{Artifact, LockedPackage, UvLock};

/// PEP 503 name normalization: lowercase, runs of `-_.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for ch in name.chars() {
        if matches!(ch, '-' | '_' | '.') {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.push(ch.to_ascii_lowercase());
            last_dash = false;
        }
    }
    out
}
