//! `.dockerignore`: the paths `pyship build` never ships, plus build and test output,
//! so `COPY . .` sends neither secrets nor junk to the builder.

use crate::python::source::ALWAYS_EXCLUDED;

/// Output of builds and test runs: never source, often large, sometimes sensitive.
const ARTEFACTS: &[&str] = &[
    "*.egg-info",
    ".coverage",
    ".coverage.*",
    "coverage.xml",
    "htmlcov",
    ".hypothesis",
    "junit*.xml",
    "node_modules",
];

/// Root-level only: build output, and the files that describe how to run the image
/// rather than what goes in it, whose edits must not invalidate the build cache.
const AT_ROOT: &[&str] = &[
    "build",
    "dist",
    "compose.yaml",
    "compose.yml",
    "docker-compose*.yml",
    ".github",
    "k8s",
];

pub fn render() -> String {
    let mut out = String::from(
        "# Kept out of the build context: version control, virtualenvs, caches, secrets\n# (.env files, keys), build and test output. Written by `pyship init`.\n",
    );
    // A bare name in .dockerignore matches only at the root; `**/` matches at any depth.
    for pattern in ALWAYS_EXCLUDED.iter().chain(ARTEFACTS) {
        out.push_str("**/");
        out.push_str(pattern);
        out.push('\n');
    }
    for pattern in AT_ROOT {
        out.push_str(pattern);
        out.push('\n');
    }
    out
}
