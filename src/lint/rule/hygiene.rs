//! Catalogue text for the shell-hygiene rules (PS5xx), checked in `rules/hygiene.rs`.

use super::Category::Shell;
use super::{Rule, RuleId};
use crate::lint::severity::Severity::Warning;

pub(super) const PS501: Rule = Rule {
    id: RuleId::PS501,
    name: "apt-recommends",
    category: Shell,
    severity: Warning,
    summary: "`apt-get install` without `--no-install-recommends`",
    hint: "add `--no-install-recommends`",
    explain: "By default apt also installs recommended packages, which routinely doubles what \
lands in the image (documentation tools, extra libraries, sometimes a compiler). Install \
only what you asked for.",
    hadolint: &["DL3015"],
    fixable: true,
};

pub(super) const PS502: Rule = Rule {
    id: RuleId::PS502,
    name: "apt-lists-kept",
    category: Shell,
    severity: Warning,
    summary: "apt package lists left in the layer",
    hint: "end the same `RUN` with `rm -rf /var/lib/apt/lists/*`",
    explain: "`apt-get update` downloads package indexes (tens of megabytes) into \
`/var/lib/apt/lists`. Unless the same `RUN` deletes them, or they live on a cache mount, \
they are shipped in the layer.",
    hadolint: &["DL3009"],
    fixable: false,
};

pub(super) const PS503: Rule = Rule {
    id: RuleId::PS503,
    name: "pipe-without-pipefail",
    category: Shell,
    severity: Warning,
    summary: "pipe in `RUN` without `pipefail`",
    hint: "`SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the `RUN`",
    explain: "`/bin/sh -c` reports only the exit status of the last command of a pipe: \
`curl … | sh` succeeds even when the download failed. With `pipefail` any failing part fails \
the build.",
    hadolint: &["DL4006"],
    fixable: false,
};

pub(super) const PS504: Rule = Rule {
    id: RuleId::PS504,
    name: "workdir-relative",
    category: Shell,
    severity: Warning,
    summary: "`WORKDIR` is a relative path",
    hint: "use an absolute path such as `/app`",
    explain: "A relative `WORKDIR` is resolved against the previous one, which depends on \
the base image and earlier instructions. An absolute path says where files land.",
    hadolint: &["DL3000"],
    fixable: false,
};
