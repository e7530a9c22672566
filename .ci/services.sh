#!/usr/bin/env bash
# Start the services the sandbox tests need; idempotent, meant to be sourced
# by .ci/run (`source .ci/services.sh`) but also runnable on its own.
#
# Side effects (as root): apt-get installs podman, runc, bubblewrap and
# debootstrap when missing; writes /etc/containers/containers.conf (runc,
# no default ulimits: see shared/notes/containers.md); starts
# `podman system service` on unix:///run/podman.sock in the background when
# it is not answering; builds the local test image when it is missing.
# Exports DOCKER_HOST and VERIFY_TEST_IMAGE, and prints them as hints.
# Stop the service with: verify_services_stop

VERIFY_PODMAN_SOCK="${VERIFY_PODMAN_SOCK:-/run/podman.sock}"
VERIFY_TEST_IMAGE="${VERIFY_TEST_IMAGE:-localhost/verify-repro:1}"
_VERIFY_CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"

_verify_log() { echo "services.sh: $*" >&2; }

_verify_wait_apt() {
  # Another shell may be running apt-get already: wait for its lock.
  local i
  for i in $(seq 1 300); do
    if ! fuser /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
}

_verify_install_packages() {
  local missing=() cmd
  for cmd in podman runc bwrap debootstrap; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  _verify_log "installing podman runc bubblewrap debootstrap (missing: ${missing[*]})"
  _verify_wait_apt
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq podman runc bubblewrap debootstrap >&2
}

_verify_write_containers_conf() {
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = []          # crun/runc may not raise RLIMIT_NOFILE here
[engine]
runtime = "runc"              # crun fails: "cgroups in hybrid mode not supported"
CONF
}

_verify_socket_answers() {
  python3 - "$VERIFY_PODMAN_SOCK" <<'PY' >/dev/null 2>&1
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n"); assert b"200" in s.recv(64)
PY
}

_verify_start_podman() {
  _verify_socket_answers && return 0
  _verify_log "starting podman system service on unix://$VERIFY_PODMAN_SOCK"
  rm -f "$VERIFY_PODMAN_SOCK"
  # From /: conmon drops an `oom` marker file in the service's working directory when a
  # container is OOM-killed (the adversarial memory-hog test does that), and it must not
  # land in the checkout.
  (cd / && exec nohup podman system service --time=0 "unix://$VERIFY_PODMAN_SOCK" >/tmp/podman-service.log 2>&1) &
  echo $! > /tmp/podman-service.pid
  local i
  for i in $(seq 1 60); do
    _verify_socket_answers && return 0
    sleep 0.5
  done
  _verify_log "podman service did not answer on $VERIFY_PODMAN_SOCK (see /tmp/podman-service.log)"
  return 1
}

verify_services_stop() {
  # Stop only the service this script started (by its recorded pid).
  if [ -f /tmp/podman-service.pid ]; then
    kill "$(cat /tmp/podman-service.pid)" 2>/dev/null || true
    rm -f /tmp/podman-service.pid
  fi
}

_verify_build_image() {
  podman image exists "$VERIFY_TEST_IMAGE" && return 0
  _verify_log "building $VERIFY_TEST_IMAGE (debootstrap, about a minute)"
  bash "$_VERIFY_CI_DIR/../scripts/build-image.sh" --tag "$VERIFY_TEST_IMAGE" >/dev/null
}

_verify_services_main() {
  _verify_install_packages || { _verify_log "package install failed"; return 1; }
  _verify_write_containers_conf
  _verify_start_podman || return 1
  _verify_build_image || { _verify_log "image build failed"; return 1; }
  export DOCKER_HOST="unix://$VERIFY_PODMAN_SOCK"
  export VERIFY_TEST_IMAGE
  echo "export DOCKER_HOST=$DOCKER_HOST"
  echo "export VERIFY_TEST_IMAGE=$VERIFY_TEST_IMAGE"
}

_verify_services_main
