#!/usr/bin/env bash
# Fetches a real 64x64 RGB data set: the 3,786 emoji of the npm package emoji-datasource-google
# 16.0.0 (MIT licence; Google's Noto emoji, Apache 2.0), as 64x64 RGBA PNGs. Uses `npm pack` only
# (the registry tarball, no install, no other download) and keeps img/google/64/*.png.
# The image-folder loader composites their transparency onto white.
#
#   scripts/fetch_emoji.sh [DEST]        # default data/emoji-64; prints DEST
#   ddpm train-autoencoder --preset rgb64-kl --data data/emoji-64
set -euo pipefail

dest=${1:-data/emoji-64}
version=16.0.0
if [[ -f "$dest/.complete" ]]; then
  echo "$dest"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch_emoji: installing npm (Debian's) to run npm pack"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "emoji-datasource-google@$version" >/dev/null)
tarball=$(ls "$work"/emoji-datasource-google-*.tgz)
mkdir -p "$work/x"
tar xzf "$tarball" -C "$work/x" package/img/google/64 package/LICENSE 2>/dev/null ||
  tar xzf "$tarball" -C "$work/x" package/img/google/64
count=$(find "$work/x/package/img/google/64" -name '*.png' | wc -l)
if [[ "$count" -lt 3000 ]]; then
  echo "fetch_emoji: expected ~3786 PNGs in the package, found $count" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/x/package/img/google/64" "$dest"
[[ -f "$work/x/package/LICENSE" ]] && cp "$work/x/package/LICENSE" "$dest/LICENSE"
echo "emoji-datasource-google $version: $count PNGs" > "$dest/.complete"
echo "$dest"
