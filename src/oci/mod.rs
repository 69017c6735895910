//! The OCI image format as data: digests' media types, references, platforms, the
//! deterministic layer writer, the one layer walker, the image model and what a
//! base's layers say about it. Nothing here talks to a registry or an engine.

pub mod facts;
mod gzip;
pub mod image;
pub mod layer;
pub mod media_type;
pub mod platform;
pub mod reference;
pub mod referrer;
pub mod walk;

pub use image::Descriptor;
pub use reference::Reference;
