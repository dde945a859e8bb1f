#!/usr/bin/env bash
# Fetch three.js from the npm registry at the version package.json pins and copy the files the
# browser viewer uses, unmodified, into the Python package (src/lsf_animation/web/static/vendor/
# three/), with three.js's MIT licence and a SHA-256 manifest.
#
# The copied files are committed: a pip install (wheel, sdist or a git checkout) then holds the
# viewer and works offline, with no npm at install time; this script is only run to update the
# pinned version. `npm pack` checks the tarball against the registry's integrity hash, and
# tests/web/test_assets.py checks the shipped files against the manifest and, when `npm ci` has
# run, byte for byte against node_modules/three.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p "require('./package.json').devDependencies.three")
dest=src/lsf_animation/web/static/vendor/three
files=(
  LICENSE
  build/three.core.min.js
  build/three.module.min.js
  examples/jsm/loaders/GLTFLoader.js
  examples/jsm/utils/BufferGeometryUtils.js
  examples/jsm/utils/SkeletonUtils.js
  examples/jsm/controls/OrbitControls.js
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "three@${version}" --silent > /dev/null)
tar -xzf "$tmp/three-${version}.tgz" -C "$tmp"
rm -rf "$dest"
for f in "${files[@]}"; do
  mkdir -p "$dest/$(dirname "$f")"
  cp "$tmp/package/$f" "$dest/$f"
done
{
  echo "three ${version} (https://www.npmjs.com/package/three), files copied unmodified from the npm tarball"
  (cd "$dest" && sha256sum "${files[@]}")
} > "$dest/MANIFEST.txt"
echo "three ${version}: ${#files[@]} files in $dest"
