//! Where bytes live on this machine and how they arrive: the content-addressed cache,
//! the HTTP client, progress reporting and atomic file writes. Everything above this
//! layer reads and writes through it; it depends on nothing else in pyship.

pub mod atomic;
pub mod cache;
pub mod digest;
pub mod http;
pub mod progress;
pub mod usage;

pub use cache::Cache;
pub use digest::Digest;
pub use progress::Progress;
