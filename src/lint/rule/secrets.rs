//! Catalogue text for the secrets and build-context rules (PS4xx), checked in
//! `rules/secrets.rs`.

use super::Category::Secrets;
use super::{Rule, RuleId};
use crate::lint::severity::Severity::{Error, Warning};

pub(super) const PS401: Rule = Rule {
    id: RuleId::PS401,
    name: "secret-in-build-config",
    category: Secrets,
    severity: Error,
    summary: "secret-looking value in `ARG` or `ENV`",
    hint: "use `RUN --mount=type=secret,id=…` at build time and inject at run time",
    explain: "`ENV` values are stored in the image config and `ARG` values in its history: \
anyone who can pull the image can read them with `docker history` or `docker inspect`. \
Pass build-time secrets with BuildKit secret mounts and runtime secrets through the \
orchestrator's environment or secret store.",
    hadolint: &["DL3064"],
    fixable: false,
};

pub(super) const PS402: Rule = Rule {
    id: RuleId::PS402,
    name: "secret-file-copied",
    category: Secrets,
    severity: Error,
    summary: "credentials file copied into the image",
    hint: "exclude it in `.dockerignore`; mount it with `--mount=type=secret` if a build step needs it",
    explain: "`.env` files, private keys, `.netrc`, `.pypirc` and cloud credential files \
copied into a layer stay in the image forever, even if a later step deletes them. Leave \
them out of the build context and mount secrets only for the step that uses them.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS403: Rule = Rule {
    id: RuleId::PS403,
    name: "context-unfiltered",
    category: Secrets,
    severity: Warning,
    summary: "whole build context copied without a `.dockerignore` that excludes local state",
    hint: "list `.git`, `.venv` and `.env` in the `.dockerignore` at the root of the build context",
    explain: "`COPY . .` copies everything the build context holds. Without a `.dockerignore` \
that excludes them, the git history, the local virtualenv (built for another platform) and \
`.env` secrets end up in the image, and any change to them breaks the layer cache.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS404: Rule = Rule {
    id: RuleId::PS404,
    name: "add-local-file",
    category: Secrets,
    severity: Warning,
    summary: "`ADD` used for local files",
    hint: "use `COPY`; keep `ADD` for archives you want unpacked",
    explain: "`ADD` unpacks archives and fetches URLs; for plain local files it behaves like \
`COPY` with surprises. `COPY` says what it does.",
    hadolint: &["DL3020"],
    fixable: false,
};

pub(super) const PS405: Rule = Rule {
    id: RuleId::PS405,
    name: "add-remote-unverified",
    category: Secrets,
    severity: Warning,
    summary: "remote `ADD` without `--checksum`",
    hint: "add `--checksum=sha256:…`, or download and verify in a `RUN`",
    explain: "A URL can serve different bytes tomorrow, or to an attacker's benefit today. \
`ADD --checksum=sha256:…` makes BuildKit verify the download; without it the image trusts \
whatever the server returned.",
    hadolint: &[],
    fixable: false,
};
