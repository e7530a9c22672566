#!/usr/bin/env bash
# Build the ML repro image (localhost/verify-repro-ml:1) that the imbalance study's
# repros name for the container backend: a debootstrapped Debian bookworm with
# python3, plus the repro stack pip-installed by the host's pip from whatever it is
# configured with (index, wheel dir) at the versions the bwrap runs use, so that both backends
# compute the same numbers. No registry is needed; `Containerfile.repro` is the
# registry-based equivalent.
#
# Usage: scripts/build-repro-image.sh [--tag NAME:TAG] [--force]   (any build-image.sh option)
# Side effects: those of scripts/build-image.sh (a podman image under the tag).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# Same versions as the host's repro extra (pyproject.toml [repro]); CPU torch.
REPRO_PIP="torch==2.13.0 transformers==5.24.0 tokenizers==0.23.3 faiss-cpu==1.15.1 \
eflomal==2.0.0 numpy==2.4.6 matplotlib==3.11.2 safetensors==0.8.0"
exec bash "$HERE/build-image.sh" --tag "${VERIFY_REPRO_IMAGE:-localhost/verify-repro-ml:1}" \
  --pip "$REPRO_PIP" "$@"
