//! Base image rules: moving tags, Alpine, digests, and Python versions and distributions
//! that must agree between `.python-version`, the builder and the runtime.

use super::Input;
use crate::dockerfile::image::Distribution;
use crate::dockerfile::{ImageRef, Kind, Stage};
use crate::lint::finding::Draft;
use crate::lint::rule::RuleId;

pub fn check(input: &Input<'_>, out: &mut Vec<Draft>) {
    for stage in &input.df.stages {
        let Some(image) = external_base(stage) else {
            continue;
        };
        let span = from_image_span(input, stage);
        moving_tag(&image, span.clone(), out);
        end_of_life(&image, span.clone(), out);
        alpine(input, stage, &image, span.clone(), out);
        python_version_file(input, &image, span, out);
    }
    stage_agreement(input, out);
    shipped_bases(input, out);
}

/// The versions the official images no longer rebuild: 3.9 and older.
fn end_of_life(image: &ImageRef, span: std::ops::Range<usize>, out: &mut Vec<Draft>) {
    let Some(version) = image.python_version() else {
        return;
    };
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok());
    if version.starts_with("3.") && minor.is_some_and(|m| m <= 9) {
        out.push(Draft::new(
            RuleId::PS107,
            span,
            format!("Python {version} is past its end of life"),
        ));
    }
}

/// The stages that ship: a full `python:3.X` base, or `--platform=$BUILDPLATFORM`.
fn shipped_bases(input: &Input<'_>, out: &mut Vec<Draft>) {
    for stage in input.shipped() {
        let root = input.df.lineage(stage).first().copied().unwrap_or(stage);
        let Kind::From(from) = &input.df.instructions[root.from].kind else {
            continue;
        };
        let platform = input.df.instructions[root.from].flag("platform");
        if platform.is_some_and(|p| p.contains("BUILDPLATFORM")) {
            out.push(Draft::new(
                RuleId::PS109,
                input.first_line(&input.df.instructions[root.from]),
                "the stage that ships runs on the build machine's platform, not the target's",
            ));
        }
        let Some(image) = external_base(root) else {
            continue;
        };
        let tag = image.tag.as_deref().unwrap_or("");
        let variant = ["slim", "alpine", "windowsservercore", "nanoserver"]
            .iter()
            .any(|v| tag.contains(v));
        if image.is_python() && image.python_version().is_some() && !variant {
            out.push(Draft::new(
                RuleId::PS108,
                from.image.span.clone(),
                format!(
                    "`{}` is the full build image; the runtime needs only `-slim`",
                    root.base.text
                ),
            ));
        }
    }
}

/// The base image of a stage, unless it is another stage, `scratch`, or unresolvable.
fn external_base(stage: &Stage) -> Option<ImageRef> {
    if stage.parent.is_some() || stage.base.unresolved || stage.base.text.is_empty() {
        return None;
    }
    let image = ImageRef::parse(&stage.base.text);
    (!image.is_scratch()).then_some(image)
}

fn from_image_span(input: &Input<'_>, stage: &Stage) -> std::ops::Range<usize> {
    match &input.df.instructions[stage.from].kind {
        Kind::From(from) => from.image.span.clone(),
        _ => input.df.instructions[stage.from].span.clone(),
    }
}

fn moving_tag(image: &ImageRef, span: std::ops::Range<usize>, out: &mut Vec<Draft>) {
    if image.digest.is_some() {
        return;
    }
    match image.tag.as_deref() {
        None => out.push(Draft::new(
            RuleId::PS101,
            span,
            format!("`{}` has no tag, so it means `latest`", image.repository),
        )),
        Some("latest") => out.push(Draft::new(
            RuleId::PS101,
            span,
            format!(
                "`{}:latest` changes whenever a new version is pushed",
                image.repository
            ),
        )),
        Some(tag)
            if image.is_python()
                && (!tag.starts_with(|c: char| c.is_ascii_digit())
                    || tag == "3"
                    || tag.starts_with("3-")) =>
        {
            out.push(Draft::new(
                RuleId::PS101,
                span,
                format!(
                    "`{}:{tag}` names no Python version: it moves to each new release",
                    image.repository
                ),
            ))
        }
        Some(tag) => out.push(Draft::new(
            RuleId::PS103,
            span,
            format!("`{}:{tag}` is not pinned by digest", image.repository),
        )),
    }
}

fn alpine(
    input: &Input<'_>,
    stage: &Stage,
    image: &ImageRef,
    span: std::ops::Range<usize>,
    out: &mut Vec<Draft>,
) {
    if image.distribution() != Some(Distribution::Alpine) {
        return;
    }
    let installs_python = input.runs(stage).any(|step| {
        step.script.commands.iter().any(|c| {
            c.program() == Some("apk")
                && c.args()
                    .iter()
                    .any(|a| a.starts_with("python3") || a.starts_with("py3-"))
        })
    });
    if image.is_python() || image.is_uv() || installs_python {
        out.push(Draft::new(
            RuleId::PS102,
            span,
            format!(
                "`{}` uses musl libc: most wheels must be built from source",
                stage.base.text
            ),
        ));
    }
}

/// `3.12.4` and `3.12` agree; `3.11` and `3.12` do not.
fn versions_agree(a: &str, b: &str) -> bool {
    a.split('.').zip(b.split('.')).all(|(x, y)| x == y)
}

/// The version in `.python-version`, which may be spelled `cpython-3.12.4` or `3.12`.
fn pinned_version(raw: &str) -> Option<String> {
    let start = raw.find(|c: char| c.is_ascii_digit())?;
    let version: String = raw[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    version.contains('.').then_some(version)
}

fn python_version_file(
    input: &Input<'_>,
    image: &ImageRef,
    span: std::ops::Range<usize>,
    out: &mut Vec<Draft>,
) {
    let (Some((path, raw)), Some(base)) = (&input.project.python_version, image.python_version())
    else {
        return;
    };
    let Some(pinned) = pinned_version(raw) else {
        return;
    };
    if !versions_agree(&pinned, &base) {
        let file = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        out.push(Draft::new(
            RuleId::PS104,
            span,
            format!("base has Python {base} but {file} pins {pinned}"),
        ));
    }
}

/// The image a stage ultimately starts from, following `FROM <stage>` chains.
fn root_image(input: &Input<'_>, stage: &Stage) -> Option<ImageRef> {
    input
        .df
        .lineage(stage)
        .first()
        .and_then(|s| external_base(s))
}

/// The builder/runtime pairs: each `COPY --from=<stage>` in the runtime lineage whose
/// source stage installed Python packages (so what it copies is a venv or site-packages).
fn stage_agreement(input: &Input<'_>, out: &mut Vec<Draft>) {
    let Some(last) = input.final_stage() else {
        return;
    };
    let Some(runtime) = root_image(input, last) else {
        return;
    };
    let mut reported = std::collections::HashSet::new();
    for (index, instruction) in input.runtime_instructions() {
        let (Kind::Copy(_), Some(from)) = (&instruction.kind, instruction.flag("from")) else {
            continue;
        };
        let Some(builder) = input.df.stage_named(from, last.index) else {
            continue;
        };
        if !installs_python_packages(input, builder) || !reported.insert(builder.index) {
            continue;
        }
        let Some(built_on) = root_image(input, builder) else {
            continue;
        };
        let span = input.first_line(&input.df.instructions[index]);
        if let (Some(a), Some(b)) = (built_on.python_version(), runtime.python_version())
            && !versions_agree(&a, &b)
        {
            out.push(Draft::new(
                RuleId::PS105,
                span.clone(),
                format!("copies from stage `{from}` built on Python {a} into a Python {b} runtime"),
            ));
        }
        if let Some((a, b)) = distributions_differ(&built_on, &runtime) {
            out.push(Draft::new(
                RuleId::PS106,
                span,
                format!("copies from stage `{from}` built on {a} into a {b} runtime"),
            ));
        }
    }
}

fn installs_python_packages(input: &Input<'_>, stage: &Stage) -> bool {
    input.df.lineage(stage).into_iter().any(|s| {
        input.runs(s).any(|step| {
            step.script.commands.iter().any(|c| {
                c.pip_install_args().is_some()
                    || c.is("uv", "sync")
                    || c.is("poetry", "install")
                    || c.is("pipenv", "install")
                    || c.is("pip", "wheel")
                    || c.is("uv", "venv")
            })
        })
    })
}

/// Two bases differ when both name their distribution and the names differ, or when
/// exactly one of them is Alpine (the official images default to Debian otherwise).
fn distributions_differ(a: &ImageRef, b: &ImageRef) -> Option<(String, String)> {
    let describe = |d: &Option<Distribution>| {
        d.as_ref()
            .map_or_else(|| "Debian (default)".to_string(), |d| d.to_string())
    };
    let (da, db) = (a.distribution(), b.distribution());
    let alpine = |d: &Option<Distribution>| d == &Some(Distribution::Alpine);
    let differ = match (&da, &db) {
        (Some(x), Some(y)) => x != y,
        _ => {
            alpine(&da) != alpine(&db)
                && (official(a) || da.is_some())
                && (official(b) || db.is_some())
        }
    };
    differ.then(|| (describe(&da), describe(&db)))
}

/// Images whose untagged distribution is known to be Debian.
fn official(image: &ImageRef) -> bool {
    image.is_python() || image.is_uv()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_agreement() {
        assert!(versions_agree("3.12.4", "3.12"));
        assert!(!versions_agree("3.11", "3.12"));
        assert_eq!(
            pinned_version("cpython-3.12.4\n").as_deref(),
            Some("3.12.4")
        );
        assert_eq!(pinned_version("pypy").as_deref(), None);
    }
}
