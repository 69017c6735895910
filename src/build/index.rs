//! A multi-platform build's outputs: each platform's image, then the OCI image index
//! naming them, written or pushed last so nothing names an image that is not there.

use std::process::ExitCode;

use anyhow::{Result, bail};

use super::attest::Attestations;
use super::summary::{BuildSummary, IndexSummary};
use super::{Built, Context, Format, attestations, needs_base_bytes};
use crate::oci::Descriptor;
use crate::oci::image::{Image, Index};
use crate::oci::platform::ImagePlatform;
use crate::sign::PrivateKey;
use crate::transport::registry::{self, Registry};
use crate::transport::{Destination, PushTarget, layout};

/// Refuses, before anything is built, what several platforms cannot go to.
pub fn check_destinations(destinations: &[Destination], platforms: &[ImagePlatform]) -> Result<()> {
    let list = platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for destination in destinations {
        match destination {
            Destination::DockerArchive(file) => bail!(
                "docker-archive:{} holds one platform and --platform names {list}: write oci:DIR instead, or build one platform",
                file.display()
            ),
            Destination::Load if !platforms.iter().any(|p| Some(*p) == ImagePlatform::host()) => {
                bail!(
                    "--load loads the engine's own platform, which --platform {list} does not name: add it, or use --push REF or --output oci:DIR"
                )
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes every platform's image and the index to each destination, then prints the
/// index's references (or the JSON summary).
pub fn publish(
    built: &[Built],
    context: &Context<'_>,
    pushed: Option<String>,
    sign_key: Option<PrivateKey>,
    started_on: String,
) -> Result<ExitCode> {
    let Context {
        args,
        cache,
        progress,
        ..
    } = *context;
    let images: Vec<(ImagePlatform, &Image)> =
        built.iter().map(|b| (b.platform, &b.image)).collect();
    let index = Index::write(&images, cache)?;
    let tag = &built[0].plan.tag;
    // Every attestation is made before anything is sent, as for one platform; each
    // reads its whole image for the SBOMs, so the platforms are read side by side.
    let attached = std::thread::scope(|scope| {
        let making: Vec<_> = built
            .iter()
            .map(|b| {
                let (pushed, started_on, key) =
                    (pushed.clone(), started_on.clone(), sign_key.clone());
                scope.spawn(move || {
                    let sources = Built::sources(
                        &b.plan,
                        &b.base,
                        &b.image,
                        pushed,
                        context.lock,
                        started_on,
                    );
                    attestations(&sources, args.no_attest, key, context)
                })
            })
            .collect();
        making
            .into_iter()
            .map(|made| {
                made.join()
                    .map_err(|_| anyhow::anyhow!("making the attestations failed"))?
            })
            .collect::<Result<Vec<Option<Attestations>>>>()
    })?;
    for b in built {
        if needs_base_bytes(context.destinations, &b.base) {
            b.base.fetch_layers(cache, progress)?;
        }
    }
    if context.destinations.is_empty() {
        progress.line("no output requested: pass --load, --push REF or --output oci:DIR; the images are in the cache");
    }
    let mut per_platform: Vec<Vec<String>> = vec![Vec::new(); built.len()];
    let (mut written, mut tagged) = (Vec::new(), Vec::new());
    for destination in context.destinations {
        let lines = match destination {
            Destination::OciLayout(dir) => {
                let images: Vec<&Image> = built.iter().map(|b| &b.image).collect();
                layout::write_index(dir, &images, &index, tag, cache)?;
                vec![format!("oci:{}@{}", dir.display(), index.digest)]
            }
            Destination::Load => load_own(built, &mut per_platform, context)?,
            Destination::Push(target) => {
                let signer = sign_key.as_ref();
                let pushed = Pushing {
                    built,
                    attached: &attached,
                    index: &index,
                    signer,
                };
                pushed.push(target, &mut per_platform, context)?
            }
            Destination::DockerArchive(file) => bail!(
                "docker-archive:{} holds one platform: write oci:DIR instead",
                file.display()
            ),
        };
        if args.format == Format::Human {
            for line in &lines {
                println!("{line}");
            }
        }
        let mut lines = lines.into_iter();
        written.extend(lines.next());
        tagged.extend(lines);
    }
    match args.format {
        Format::Human if context.destinations.is_empty() => {
            println!("{}@{}", tag.name(), index.digest)
        }
        Format::Human => {}
        Format::Json => {
            let platforms = built
                .iter()
                .zip(per_platform)
                .map(|(b, outputs)| {
                    BuildSummary::new(&b.plan, &b.base, &b.image, &b.own, outputs, Vec::new())
                })
                .collect();
            let summary = IndexSummary {
                image: tag.to_string(),
                digest: index.digest.to_string(),
                outputs: written,
                tags: tagged,
                platforms,
            };
            println!("{}", serde_json::to_string(&summary)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the image of the engine's own platform, the one it runs natively.
fn load_own(
    built: &[Built],
    per_platform: &mut [Vec<String>],
    context: &Context<'_>,
) -> Result<Vec<String>> {
    let (n, own) = built
        .iter()
        .enumerate()
        .find(|(_, b)| Some(b.platform) == ImagePlatform::host())
        .expect("checked before the build");
    let (cache, client, progress) = (context.cache, context.client, context.progress);
    progress.line(&format!(
        "load    {} only: the engine's own platform",
        own.platform
    ));
    let lines = Destination::Load.write(
        &own.image,
        &own.base,
        &own.plan.tag,
        cache,
        client,
        progress,
        &|_, _| Ok(()),
    )?;
    per_platform[n].extend(lines.iter().cloned());
    Ok(lines)
}

/// What a multi-platform push sends: each platform's image with its attestations,
/// then the index, signed when there is a key.
struct Pushing<'a> {
    built: &'a [Built],
    attached: &'a [Option<Attestations>],
    index: &'a Index,
    signer: Option<&'a PrivateKey>,
}

impl Pushing<'_> {
    /// Each platform's image by digest (its referrers attached), then the index by
    /// digest, then the tags on the index. Returns the index's references.
    fn push(
        &self,
        target: &PushTarget,
        per_platform: &mut [Vec<String>],
        context: &Context<'_>,
    ) -> Result<Vec<String>> {
        let (cache, client, progress) = (context.cache, context.client, context.progress);
        let by_digest = PushTarget::new(&target.repository, Vec::new());
        // The platforms go side by side: each is mostly round trips to the registry.
        let pushes = std::thread::scope(|scope| {
            let pushing: Vec<_> = self
                .built
                .iter()
                .zip(self.attached)
                .map(|(b, attestations)| {
                    let by_digest = &by_digest;
                    scope.spawn(move || {
                        let attach = |registry: &Registry, subject: &Descriptor| match attestations
                        {
                            Some(a) => a.attach(registry, cache, subject, &b.image.manifest),
                            None => Ok(()),
                        };
                        let lines = registry::push(
                            by_digest, &b.image, &b.base, cache, client, progress, &attach,
                        )?;
                        progress.line(&format!("pushed  {} {}", b.platform, lines[0]));
                        Ok(lines)
                    })
                })
                .collect();
            pushing
                .into_iter()
                .map(|push| {
                    push.join()
                        .map_err(|_| anyhow::anyhow!("pushing a platform's image failed"))?
                })
                .collect::<Result<Vec<Vec<String>>>>()
        })?;
        for (mine, lines) in per_platform.iter_mut().zip(pushes) {
            mine.extend(lines);
        }
        // The index is signed too, so `promote --require signature` can gate it; the
        // SBOMs and provenance are on each platform's manifest.
        let index = self.index;
        let sign = |registry: &Registry, subject: &Descriptor| match self.signer {
            Some(key) => crate::sign::attach(registry, cache, key, subject, &index.bytes),
            None => Ok(()),
        };
        registry::push_index(target, index, client, &sign)
    }
}
