//! Catalogue text for the container-workflow rules (PS6xx), checked in `workflow/`.

use super::Category::Workflow;
use super::{Rule, RuleId};
use crate::lint::severity::Severity::{Error, Info, Warning};

pub(super) const PS601: Rule = Rule {
    id: RuleId::PS601,
    name: "ghcr-personal-token",
    category: Workflow,
    severity: Warning,
    summary: "GHCR login with a personal access token",
    hint: "use `secrets.GITHUB_TOKEN` with `permissions: packages: write`",
    explain: "A personal access token is long-lived, tied to a person and usually broader \
than one repository. For GitHub Container Registry the workflow's own `GITHUB_TOKEN` can \
push when the job grants `packages: write`; it expires with the run and needs no rotation.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS602: Rule = Rule {
    id: RuleId::PS602,
    name: "inline-credentials",
    category: Workflow,
    severity: Error,
    summary: "registry credential written inline in the workflow",
    hint: "store it as an Actions secret and reference `${{ secrets.NAME }}`",
    explain: "Anything in the workflow file is readable by everyone who can read the \
repository, and stays in its history after removal. Passwords and tokens belong in \
encrypted secrets.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS603: Rule = Rule {
    id: RuleId::PS603,
    name: "workflow-permissions",
    category: Workflow,
    severity: Warning,
    summary: "image workflow without least-privilege `permissions`",
    hint: "declare `permissions: { contents: read, packages: write }` on the job",
    explain: "Without a `permissions` block the `GITHUB_TOKEN` gets the repository default, \
often write access to everything; `write-all` grants it explicitly. A compromised action \
in the job can then push code or tamper with releases. Grant only what the job needs.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS604: Rule = Rule {
    id: RuleId::PS604,
    name: "no-immutable-tag",
    category: Workflow,
    severity: Warning,
    summary: "image pushed without an immutable commit tag",
    hint: "add `type=sha` to docker/metadata-action tags, or tag with `${{ github.sha }}`",
    explain: "`latest` and branch tags move with every push. Without a tag naming the commit, \
a deployment cannot pin what it runs, rollbacks mean rebuilding, and an incident cannot \
name the build. Push a SHA tag and promote by retagging.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS605: Rule = Rule {
    id: RuleId::PS605,
    name: "no-build-cache",
    category: Workflow,
    severity: Warning,
    summary: "image build without a layer cache",
    hint: "add `cache-from: type=gha` and `cache-to: type=gha,mode=max`",
    explain: "CI runners start empty, so without a cache source every build reinstalls all \
dependencies. `cache-from`/`cache-to` (the GitHub Actions cache or a registry) let an \
unchanged dependency layer be reused.",
    hadolint: &[],
    fixable: false,
};

pub(super) const PS606: Rule = Rule {
    id: RuleId::PS606,
    name: "action-moving-tag",
    category: Workflow,
    severity: Info,
    summary: "action pinned to a tag that can move",
    hint: "pin the full commit SHA and keep the tag in a comment",
    explain: "`uses: owner/action@v3` runs whatever the tag points to when the job starts; a \
compromised action repository can move it. A 40-character commit SHA cannot move.",
    hadolint: &[],
    fixable: false,
};
