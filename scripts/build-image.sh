#!/usr/bin/env bash
# Build the local repro image without any registry: debootstrap a minimal
# Debian root filesystem with python3, optionally pip-install extra packages
# into it, then `podman import` it under a local tag.
#
# Usage: scripts/build-image.sh [--tag NAME:TAG] [--pip "pkg==1.0 other"] [--include deb,deb]
#                               [--suite bookworm] [--mirror URL] [--force]
#   --tag      image tag (default: $VERIFY_TEST_IMAGE or localhost/verify-repro:1)
#   --pip      extra Python packages, installed by the host's pip (its index
#              configuration applies) into the image's /usr/local dist-packages;
#              the host Python ($PYTHON, default python3) must match the image's minor
#   --include  extra Debian packages for debootstrap
#   --force    rebuild even when the tag already exists
# Side effects: writes a root filesystem under a temporary directory (removed
# at the end) and adds/replaces the tag in podman's local image store.
# Prints the image id on its last line.
set -euo pipefail

TAG="${VERIFY_TEST_IMAGE:-localhost/verify-repro:1}"
PIP_PACKAGES=""
INCLUDE="python3,python-is-python3,ca-certificates"
SUITE="bookworm"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
FORCE=0

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --pip) PIP_PACKAGES="$2"; shift 2 ;;
    --include) INCLUDE="$INCLUDE,$2"; shift 2 ;;
    --suite) SUITE="$2"; shift 2 ;;
    --mirror) MIRROR="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "build-image.sh: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

if [ "$FORCE" = 0 ] && podman image exists "$TAG"; then
  echo "build-image.sh: $TAG already exists (use --force to rebuild)" >&2
  podman image inspect --format '{{.Id}}' "$TAG"
  exit 0
fi

ROOTFS="$(mktemp -d "${TMPDIR:-/var/tmp}/verify-rootfs.XXXXXX")"
cleanup() { rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

echo "build-image.sh: debootstrap $SUITE into $ROOTFS (include: $INCLUDE)" >&2
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" >&2

if [ -n "$PIP_PACKAGES" ]; then
  # The host's pip installs into the image's dist-packages: it knows the
  # host's package index configuration (local mirrors, wheel dirs) that the
  # image does not. Wheels must match the image's Python, so check the minor.
  PY="${PYTHON:-python3}"
  HOST_MINOR="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  IMAGE_MINOR="$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ "$HOST_MINOR" != "$IMAGE_MINOR" ]; then
    echo "build-image.sh: host Python $HOST_MINOR != image Python $IMAGE_MINOR; set PYTHON=python$IMAGE_MINOR" >&2
    exit 1
  fi
  echo "build-image.sh: pip install $PIP_PACKAGES (Python $IMAGE_MINOR)" >&2
  # shellcheck disable=SC2086  # word splitting of the package list is intended
  "$PY" -m pip install --no-cache-dir --no-warn-script-location --ignore-installed \
    --target "$ROOTFS/usr/local/lib/python$IMAGE_MINOR/dist-packages" $PIP_PACKAGES >&2
fi

# Slim the image: apt caches and docs are not needed to run repros.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*

tar --numeric-owner -C "$ROOTFS" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' - "$TAG" >&2
echo "build-image.sh: pin it as $(podman image inspect --format '{{index .RepoDigests 0}}' "$TAG")" >&2
podman image inspect --format '{{.Id}}' "$TAG"
