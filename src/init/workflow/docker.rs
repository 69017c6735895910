//! The workflow for teams that keep a Dockerfile: BuildKit builds once, pushes an
//! immutable `sha-` tag, an SBOM and a scan are made of that digest, then it is promoted
//! by moving tags, never by rebuilding.

use super::{HEAD, first_steps, ghcr_login};

const SETUP_BUILDX: &str =
    "docker/setup-buildx-action@37fe631027851001ddb9b187196cc803df7f5f0e # v4.3.0";
const METADATA: &str = "docker/metadata-action@dc802804100637a589fabce1cb79ff13a1411302 # v6.2.0";
const BUILD_PUSH: &str =
    "docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a # v7.3.0";
const SBOM: &str = "anchore/sbom-action@e22c389904149dbc22b58101806040fa8d37a610 # v0.24.0";
const SCAN: &str = "anchore/scan-action@e1165082ffb1fe366ebaf02d8526e7c4989ea9d2 # v7.4.0";

pub fn render() -> String {
    let login = ghcr_login();
    let head = HEAD;
    let first_steps = first_steps();
    format!(
        "\
# Builds the image once per push, pushes it to GHCR under an immutable sha-<commit> tag,
# records an SBOM and scans that exact digest; only then do the branch and version tags
# move to it, so what is promoted is what was scanned. Written by `pyship init`.
{head}
jobs:
  build:
    name: Build and push sha- tag
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      packages: write # push to GHCR with the job's own GITHUB_TOKEN
    outputs:
      image: ${{{{ steps.name.outputs.image }}}}
      digest: ${{{{ steps.build.outputs.digest }}}}
    steps:
{first_steps}
      - uses: {SETUP_BUILDX}
{login}
      - id: meta
        uses: {METADATA}
        with:
          images: ${{{{ steps.name.outputs.image }}}}
          tags: type=sha,prefix=sha-,format=long
      - id: build
        uses: {BUILD_PUSH}
        with:
          context: .
          push: true
          tags: ${{{{ steps.meta.outputs.tags }}}}
          labels: ${{{{ steps.meta.outputs.labels }}}}
          build-args: |
            BUILD_DATE=${{{{ fromJSON(steps.meta.outputs.json).labels['org.opencontainers.image.created'] }}}}
            VCS_REF=${{{{ github.sha }}}}
            VCS_URL=${{{{ github.server_url }}}}/${{{{ github.repository }}}}
          # BuildKit layer cache in GitHub's cache service: unchanged dependencies are not reinstalled.
          cache-from: type=gha
          cache-to: type=gha,mode=max

  scan:
    name: SBOM and vulnerability scan
    needs: build
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      packages: read # pull the image just pushed
    steps:
{login}
      - name: SBOM of the pushed digest
        uses: {SBOM}
        with:
          image: ${{{{ needs.build.outputs.image }}}}@${{{{ needs.build.outputs.digest }}}}
          format: spdx-json
          artifact-name: sbom.spdx.json
          upload-release-assets: false
      - name: Vulnerability scan of the pushed digest
        uses: {SCAN}
        with:
          image: ${{{{ needs.build.outputs.image }}}}@${{{{ needs.build.outputs.digest }}}}
          fail-build: true
          severity-cutoff: high
          only-fixed: true

  promote:
    name: Promote the scanned digest
    needs: [build, scan]
    runs-on: ubuntu-24.04
    permissions:
      packages: write # move tags on GHCR
    steps:
      - uses: {SETUP_BUILDX}
{login}
      - id: meta
        uses: {METADATA}
        with:
          images: ${{{{ needs.build.outputs.image }}}}
          tags: |
            type=ref,event=branch
            type=semver,pattern={{{{version}}}}
            type=semver,pattern={{{{major}}}}.{{{{minor}}}}
      - name: Point the tags at the scanned digest
        env:
          TAGS: ${{{{ steps.meta.outputs.tags }}}}
          SOURCE: ${{{{ needs.build.outputs.image }}}}@${{{{ needs.build.outputs.digest }}}}
        run: |
          args=()
          while IFS= read -r tag; do
            [ -n \"$tag\" ] && args+=(--tag \"$tag\")
          done <<< \"$TAGS\"
          if [ ${{#args[@]}} -eq 0 ]; then
            echo \"no branch or version tag for $GITHUB_REF; nothing to promote\"
            exit 0
          fi
          docker buildx imagetools create \"${{args[@]}}\" \"$SOURCE\"
"
    )
}
