#!/usr/bin/env bash
# Builds fc-local's own image (see Dockerfile) without a registry: the context holds fc-local as
# `npm pack` makes it, its production dependencies installed here, and this machine's Node.js
# (the offline base has Debian's Node.js 18; fc-local needs 20 or later).
# Usage: scripts/build-fc-local-image.sh [TAG]   (base: FC_LOCAL_BASE_IMAGE, default the offline image;
# FC_LOCAL_IMAGE_PREBUILT=1 packs the current build instead of building first)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-fc-local/fc-local:dev}
base=${FC_LOCAL_BASE_IMAGE:-fc-local/runtime:offline-6}
ctx=$(mktemp -d /var/tmp/fc-local-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
# FC_LOCAL_IMAGE_PREBUILT=1: pack dist/ as it is, without the `prepare` build (the tests: a
# rebuild in place would pull dist/ from under the other tests' running CLIs).
pack_flags=()
[ "${FC_LOCAL_IMAGE_PREBUILT:-}" = 1 ] && pack_flags+=(--ignore-scripts)
# Each step names itself on stderr, so that a build that stalls says where.
step() { echo "build-fc-local-image: $*" >&2; }
step "packing fc-local"
tarball=$(npm pack ${pack_flags[@]+"${pack_flags[@]}"} --pack-destination "$ctx" --silent | tail -n 1)
tar -xzf "$ctx/$tarball" -C "$ctx"
# The lockfile pins the versions this checkout was tested with, and lets npm take every package
# from its cache (filled by the checkout's own `npm ci`): no registry round trip when it is there.
cp package-lock.json "$ctx/package/package-lock.json"
step "installing production dependencies (npm ci --omit=dev --prefer-offline)"
(cd "$ctx/package" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --silent)
cp "$(command -v node)" "$ctx/node"
cp Dockerfile "$ctx/Dockerfile"
step "docker build from $base"
docker build --quiet --build-arg "BASE=$base" -t "$tag" "$ctx" >/dev/null
echo "$tag"
