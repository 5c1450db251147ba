#!/usr/bin/env bash
# Renders assets/wick.svg to assets/icons/wick-<N>.png for the desktop (hicolor sizes) and the
# window icon. Needs rsvg-convert (Debian: librsvg2-bin). The PNGs are committed; run this
# again after editing the SVG.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || { echo "rsvg-convert not found: apt-get install librsvg2-bin" >&2; exit 1; }
mkdir -p assets/icons
for size in 16 32 48 64 128 256 512; do
    rsvg-convert --width "$size" --height "$size" assets/wick.svg --output "assets/icons/wick-$size.png"
done
ls -l assets/icons
