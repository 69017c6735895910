//! The tags a push gets when `--push` names only a repository, derived from git the
//! way docker/metadata-action derives them for a push:
//!
//! - `sha-<full commit>` (its `type=sha,format=long`): immutable, what deploys pin.
//!   Left out when tracked files under the project differ from the commit, since the
//!   tag would name a commit the image does not match; `--allow-dirty` keeps it.
//! - the branch (`type=ref,event=branch`), each run of characters a tag cannot hold
//!   replaced by one `-` (`feature/x` → `feature-x`), cut to 128 characters. None on
//!   a detached HEAD.
//! - for each semver tag on HEAD (`v` optional), its version (`type=semver,
//!   pattern={{version}}`): `v1.2.3` → `1.2.3`. A pre-release keeps its suffix
//!   (`v2.0.8-beta.67` → `2.0.8-beta.67`), as `{{version}}` does; build metadata is
//!   dropped, as there. Like metadata-action, a pre-release gets no shorter tags; unlike
//!   it, no release gets `latest` either: a moving tag is for promotion to set.

use std::path::Path;

use anyhow::Result;

use super::git::Checkout;

/// The longest tag the distribution spec allows.
const MAX_TAG: usize = 128;

/// The tags to push for the checkout around `root`, saying on stderr why the SHA tag
/// is left out when it is.
pub fn from_git(root: &Path, allow_dirty: bool) -> Result<Vec<String>> {
    let checkout = Checkout::read(root)?;
    if checkout.dirty && !allow_dirty {
        eprintln!(
            "warning: tracked files under {} differ from commit {}: no sha- tag is pushed (commit them, or pass --allow-dirty)",
            root.display(),
            &checkout.commit[..checkout.commit.len().min(12)]
        );
    }
    Ok(tags(&checkout, allow_dirty))
}

/// The tags for `checkout`, in metadata-action's order of importance reversed to
/// put the immutable one first: SHA, branch, versions.
pub fn tags(checkout: &Checkout, allow_dirty: bool) -> Vec<String> {
    let mut tags = Vec::new();
    if !checkout.dirty || allow_dirty {
        tags.push(format!("sha-{}", checkout.commit));
    }
    tags.extend(checkout.branch.as_deref().and_then(sanitize));
    tags.extend(checkout.tags.iter().filter_map(|tag| version(tag)));
    let mut seen = std::collections::HashSet::new();
    tags.retain(|tag| seen.insert(tag.clone()));
    tags
}

/// `text` as a valid tag: runs of other characters become `-`, a leading `.` or `-`
/// (which a tag cannot start with) goes, and the rest is cut to 128 characters.
/// None when nothing is left.
pub fn sanitize(text: &str) -> Option<String> {
    let mut tag = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        let valid = c.is_ascii_alphanumeric() || "._-".contains(c);
        if valid {
            tag.push(c);
        } else if !in_run {
            tag.push('-');
        }
        in_run = !valid;
    }
    let tag = tag.trim_start_matches(['.', '-']);
    let tag = &tag[..tag.len().min(MAX_TAG)];
    (!tag.is_empty()).then(|| tag.to_owned())
}

/// The `{{version}}` of a semver git tag (`v1.2.3` or `1.2.3`, pre-release kept,
/// build metadata dropped); None for any other tag.
fn version(git_tag: &str) -> Option<String> {
    let text = git_tag.strip_prefix('v').unwrap_or(git_tag);
    let parsed = semver::Version::parse(text).ok()?;
    let mut version = format!("{}.{}.{}", parsed.major, parsed.minor, parsed.patch);
    if !parsed.pre.is_empty() {
        version = format!("{version}-{}", parsed.pre);
    }
    sanitize(&version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout(branch: Option<&str>, tags: &[&str], dirty: bool) -> Checkout {
        Checkout {
            commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
            branch: branch.map(str::to_owned),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            dirty,
        }
    }

    #[test]
    fn branch_names_become_tags_as_metadata_action_writes_them() {
        assert_eq!(sanitize("main").as_deref(), Some("main"));
        assert_eq!(sanitize("feature/x").as_deref(), Some("feature-x"));
        assert_eq!(sanitize("releases/v1").as_deref(), Some("releases-v1"));
        assert_eq!(
            sanitize("fix/#42 ünïcode").as_deref(),
            Some("fix-42-n-code")
        );
        assert_eq!(sanitize("a//b").as_deref(), Some("a-b"));
        assert_eq!(sanitize("a-/b").as_deref(), Some("a--b"));
        assert_eq!(sanitize("ü/x").as_deref(), Some("x"));
        assert_eq!(sanitize("///"), None);
        let long = "b".repeat(300);
        assert_eq!(sanitize(&long).unwrap().len(), MAX_TAG);
    }

    #[test]
    fn release_tags_give_their_version_and_others_nothing() {
        assert_eq!(version("v1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(version("1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(version("v2.0.8-beta.67").as_deref(), Some("2.0.8-beta.67"));
        assert_eq!(
            version("v9.5.7-alpha.2+fork.3.1.8").as_deref(),
            Some("9.5.7-alpha.2")
        );
        for other in ["v1.2", "release1", "v01.2.3", "vX.Y.Z", "sometag"] {
            assert_eq!(version(other), None, "{other}");
        }
    }

    #[test]
    fn sha_branch_and_version_and_no_sha_for_a_dirty_tree() {
        let clean = checkout(Some("feature/x"), &["v1.2.3", "notes"], false);
        assert_eq!(
            tags(&clean, false),
            [
                "sha-0123456789abcdef0123456789abcdef01234567",
                "feature-x",
                "1.2.3"
            ]
        );
        let dirty = Checkout {
            dirty: true,
            ..clean.clone()
        };
        assert_eq!(tags(&dirty, false), ["feature-x", "1.2.3"]);
        assert_eq!(tags(&dirty, true), tags(&clean, false));
        let detached = checkout(None, &[], false);
        assert_eq!(
            tags(&detached, false),
            ["sha-0123456789abcdef0123456789abcdef01234567"]
        );
        let same = checkout(Some("1.2.3"), &["v1.2.3"], true);
        assert_eq!(tags(&same, false), ["1.2.3"]);
    }
}
