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
#   --mirror   Debian archive for debootstrap (default: $DEBIAN_MIRROR, else the
#              first `deb` source of the suite in the host's own apt configuration,
#              /etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources,
#              so a local mirror configured on the host carries over)
#   --force    rebuild even when the tag already exists
#   --print-mirror  print the mirror that would be used, and exit
# Side effects: writes a root filesystem under a temporary directory (removed
# at the end) and adds/replaces the tag in podman's local image store.
# Prints the image id on its last line.
set -euo pipefail

TAG="${VERIFY_TEST_IMAGE:-localhost/verify-repro:1}"
PIP_PACKAGES=""
INCLUDE="python3,python-is-python3,ca-certificates"
SUITE="bookworm"
MIRROR="${DEBIAN_MIRROR:-}"
APT_SOURCES="${APT_SOURCES:-/etc/apt}"  # where the host's apt configuration lives (tests point it elsewhere)
FORCE=0
PRINT_MIRROR=0

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --pip) PIP_PACKAGES="$2"; shift 2 ;;
    --include) INCLUDE="$INCLUDE,$2"; shift 2 ;;
    --suite) SUITE="$2"; shift 2 ;;
    --mirror) MIRROR="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    --print-mirror) PRINT_MIRROR=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

# The archive URI of the first enabled `deb` source that lists SUITE, from the one-line
# format (`deb [opts] URI SUITE COMPONENTS`) and the deb822 format (`Types:`, `URIs:`,
# `Suites:`, `Enabled:` fields, paragraphs separated by blank lines).
host_mirror() {
  local suite="$1" files=()
  [ -f "$APT_SOURCES/sources.list" ] && files+=("$APT_SOURCES/sources.list")
  for f in "$APT_SOURCES"/sources.list.d/*.list "$APT_SOURCES"/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -eq 0 ] && return 0
  awk -v suite="$suite" '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uris != "") {
        split(uris, u, " "); print u[1]; found = 1; exit
      }
      types = ""; uris = ""; suites = ""; enabled = ""
    }
    FNR == 1 { flush() }
    /^[ \t]*#/ { next }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
      if (key == "types") types = $0; else if (key == "uris") uris = $0
      else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0)
      next
    }
    $1 == "deb" {
      i = 2
      if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) { print $i; found = 1; exit }
    }
    END { if (!found) flush() }
  ' "${files[@]}"
}

resolve_mirror() {
  [ -n "$MIRROR" ] && return 0
  MIRROR="$(host_mirror "$SUITE")"
  if [ -z "$MIRROR" ]; then
    echo "build-image.sh: no apt source for $SUITE under $APT_SOURCES; pass --mirror URL or set DEBIAN_MIRROR" >&2
    exit 1
  fi
}

if [ "$PRINT_MIRROR" = 1 ]; then
  resolve_mirror
  echo "$MIRROR"
  exit 0
fi

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "build-image.sh: $tool not found (apt-get install $tool)" >&2; exit 1; }
done

if [ "$FORCE" = 0 ] && podman image exists "$TAG"; then
  echo "build-image.sh: $TAG already exists (use --force to rebuild)" >&2
  podman image inspect --format '{{.Id}}' "$TAG"
  exit 0
fi

resolve_mirror
ROOTFS="$(mktemp -d "${TMPDIR:-/var/tmp}/verify-rootfs.XXXXXX")"
cleanup() { rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

echo "build-image.sh: debootstrap $SUITE from $MIRROR into $ROOTFS (include: $INCLUDE)" >&2
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
