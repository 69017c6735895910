//! The one HTTP client pyship uses, for package indexes and registries alike.
//!
//! TLS goes through the platform verifier, which on Linux trusts the system store and
//! `SSL_CERT_FILE`, as a tool must behind a corporate proxy that re-signs HTTPS:
//! bundled roots alone would fail there.

use std::time::Duration;

use anyhow::{Context, Result};

pub fn client() -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("pyship/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(600))
        .pool_max_idle_per_host(16)
        .build()
        .context("cannot set up HTTPS")
}
