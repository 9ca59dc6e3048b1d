#!/usr/bin/env bash
# The container tests' engine: Debian's podman (it serves the Docker Engine API, so
# docker-py, prefect-docker's build step and the docker work pool run against it
# unchanged), and a local Debian base image built from this machine's apt mirror,
# because no registry (Docker Hub included) can be reached. Quick when already done.
#
# Podman keeps its images in its default storage (/var/lib/containers/storage for root),
# outside the checkout: a second clone (CI) finds the base image and the build cache there.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/tests/services/containers.conf"
BASE_IMAGE=${PIPELINES_BASE_IMAGE:-localhost/pipelines-base:bookworm}
# bump when the base image's recipe below changes: an image of another recipe is rebuilt
RECIPE=1

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "podman is missing and this user cannot install it: apt-get install podman buildah runc mmdebstrap" >&2
    exit 1
  fi
fi

missing=()
for tool in podman buildah runc mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }
  echo "installed ${missing[*]} (Debian packages) for the container tests"
fi

if [ "$(podman image inspect --format '{{ index .Labels "pipelines.base.recipe" }}' "$BASE_IMAGE" 2>/dev/null)" = "$RECIPE" ]; then
  exit 0
fi

# The mirrors apt uses here (deb822 `URIs:` or one-line `deb URI`), for Debian's main
# archive and its security archive; deb.debian.org where none is configured.
apt_uri() {  # $1: a regular expression the suite must match
  local files=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v want="$1" '
    /^deb[ \t]/ { uri = ($2 ~ /^\[/) ? $3 : $2; suite = ($2 ~ /^\[/) ? $4 : $3
                  if (suite ~ want) { print uri; exit } }
    /^URIs:/    { uri = $2 }
    /^Suites:/  { for (i = 2; i <= NF; i++) if ($i ~ want) { print uri; exit } }' "${files[@]}"
}
mirror=$(apt_uri '^[a-z]+$')
security=$(apt_uri '-security$')
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-http://deb.debian.org/debian-security}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The host's CA bundle goes into the image: TLS to the package index inside a build only
# verifies with this machine's own CAs. Debian's pip refuses to install into the system
# Python (PEP 668) unless EXTERNALLY-MANAGED is gone, and the Dockerfile pip-installs uv.
$SUDO mmdebstrap --quiet --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates,python-is-python3 \
  --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
  --customize-hook='rm -f "$1/usr/lib/python3.11/EXTERNALLY-MANAGED"' \
  bookworm "$work/rootfs.tar" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"
# uv ignores the system store unless SSL_CERT_FILE names it
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change "LABEL pipelines.base.recipe=$RECIPE" \
  --change 'CMD ["python3"]' \
  "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
echo "built the base image $BASE_IMAGE (Debian bookworm from $mirror) for the container tests"
