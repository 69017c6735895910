//! The workflow that publishes with pyship: one job builds and pushes the immutable
//! `sha-` tag (SBOM and provenance attached by pyship), checks that digest and signs it
//! keylessly with the job's OIDC identity; a second job promotes the digest by moving
//! tags, refusing one without a signature or SBOM.

use super::{HEAD, first_steps};

/// Installs Sigstore's cosign for the keyless signature: pyship signs with a key file,
/// while a GitHub job's identity is an OIDC token that only Sigstore's Fulcio turns into
/// a certificate.
const COSIGN_INSTALLER: &str =
    "sigstore/cosign-installer@6f9f17788090df1f26f669e9d70d6ae9567deba6 # v4.1.2";

/// Every job installs this pyship release, so CI runs what was tested.
fn install_pyship() -> String {
    format!(
        "      - name: Install pyship {version}
        run: pipx install \"pyship==$PYSHIP_VERSION\"",
        version = env!("CARGO_PKG_VERSION")
    )
}

pub fn render() -> String {
    let install = install_pyship();
    let head = HEAD;
    let first_steps = first_steps();
    format!(
        "\
# Builds the image with pyship (no Dockerfile, no Docker daemon, no buildx or QEMU),
# pushes it to GHCR under an immutable sha-<commit> tag with its SBOM and provenance
# attached, checks that exact digest and signs it; only then do the branch and version
# tags move to it, by digest. Written by `pyship init --ci pyship`.
{head}
env:
  PYSHIP_VERSION: \"{version}\"
  # pyship sends this login to GHCR and nowhere else (not to the base image's registry).
  PYSHIP_REGISTRY: ghcr.io

jobs:
  build:
    name: Build, push sha- tag, check and sign
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      packages: write # push to GHCR with the job's own GITHUB_TOKEN
      id-token: write # the keyless signature's identity
    outputs:
      image: ${{{{ steps.name.outputs.image }}}}
      digest: ${{{{ steps.build.outputs.digest }}}}
    env:
      PYSHIP_REGISTRY_USERNAME: ${{{{ github.actor }}}}
      PYSHIP_REGISTRY_PASSWORD: ${{{{ secrets.GITHUB_TOKEN }}}}
    steps:
{first_steps}
{install}
      - id: build
        name: Build and push the immutable sha- tag, SBOM and provenance attached
        env:
          IMAGE: ${{{{ steps.name.outputs.image }}}}
        run: |
          pyship build . --push \"$IMAGE:sha-$GITHUB_SHA\" --format json > build.json
          echo \"digest=$(jq -r .digest build.json)\" >> \"$GITHUB_OUTPUT\"
      - name: Check the pushed digest (runs it hardened, probes its health)
        env:
          SOURCE: ${{{{ steps.name.outputs.image }}}}@${{{{ steps.build.outputs.digest }}}}
        run: pyship verify \"$SOURCE\"
      - uses: {COSIGN_INSTALLER}
      - name: Keyless signature of the digest (a Sigstore bundle, attached as a referrer)
        env:
          SOURCE: ${{{{ steps.name.outputs.image }}}}@${{{{ steps.build.outputs.digest }}}}
        run: |
          echo \"$PYSHIP_REGISTRY_PASSWORD\" | cosign login ghcr.io -u \"$PYSHIP_REGISTRY_USERNAME\" --password-stdin
          cosign sign --yes \"$SOURCE\"

  promote:
    name: Promote the checked digest
    needs: build
    runs-on: ubuntu-24.04
    permissions:
      packages: write # move tags on GHCR
    env:
      PYSHIP_REGISTRY_USERNAME: ${{{{ github.actor }}}}
      PYSHIP_REGISTRY_PASSWORD: ${{{{ secrets.GITHUB_TOKEN }}}}
    steps:
{install}
      - name: Point the branch or version tag at the digest, without pulling or pushing a layer
        env:
          SOURCE: ${{{{ needs.build.outputs.image }}}}@${{{{ needs.build.outputs.digest }}}}
        run: |
          case \"$GITHUB_REF\" in
            refs/tags/v*) tag=\"${{GITHUB_REF_NAME#v}}\" ;;
            *) tag=\"${{GITHUB_REF_NAME//\\//-}}\" ;;
          esac
          pyship promote \"$SOURCE\" \"$tag\" --require signature,sbom
",
        version = env!("CARGO_PKG_VERSION")
    )
}
