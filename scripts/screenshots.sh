#!/usr/bin/env bash
# Screenshots of the real window, one per panel in use, for a person to look at.
#
# Starts Wick under Xvfb with a fresh data folder and HF_HOME, serving ../shared/hub through
# the loopback mirror when it exists (so Hub search and the course recipe work offline), and
# lets the app's screenshot tour (WICK_TOUR_DIR) visit each panel: the welcome view, the
# offline demo training in Monitor, Hub, Data, Train, Runs and Playground, the same panels in
# the smallest window, then Data, Monitor and Playground for entities (ner), multi-label and
# regression, each trained offline on synthetic reviews, and last a LoRA run of the demo (its
# preflight against full fine-tuning, its Runs badge, the Playground with the adapter on the
# base). Each PNG is what the window painted;
# an `import -window root` while the app is up shows the whole X screen.
#
# Needs: xvfb, imagemagick (Debian packages). Usage: scripts/screenshots.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-target/screenshots}")"
shared_hub="${WICK_SHARED_HUB:-../shared/hub}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wick-target}"

for tool in Xvfb import; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y xvfb imagemagick" >&2; exit 1; }
done

cargo build --release --locked
wick="$CARGO_TARGET_DIR/release/wick"

scratch="$(mktemp -d)"
cleanup() {
  [ -n "${mirror_pid:-}" ] && kill "$mirror_pid" 2>/dev/null || true
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$out"
rm -f "$out"/*.png

export XDG_DATA_HOME="$scratch/data" XDG_CONFIG_HOME="$scratch/config" HF_HOME="$scratch/hf"
if [ -d "$shared_hub" ]; then
  port=$((20000 + RANDOM % 20000))
  "$wick" hub serve "$shared_hub" --port "$port" >"$scratch/mirror.log" 2>&1 &
  mirror_pid=$!
  export HF_ENDPOINT="http://127.0.0.1:$port" WICK_HF_VIEWER_URL="http://127.0.0.1:$port/viewer"
  sleep 1
else
  echo "note: $shared_hub not found; Hub search will show the offline message" >&2
  export HF_HUB_OFFLINE=1
fi

display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >"$scratch/xvfb.log" 2>&1 &
xvfb_pid=$!
sleep 1
export DISPLAY="$display" WAYLAND_DISPLAY= LIBGL_ALWAYS_SOFTWARE=1
WICK_TOUR_DIR="$out" timeout 900 "$wick" &
app_pid=$!
# One picture of the whole X screen while the app is up, as a person would see it.
(sleep 8 && import -window root "$out/00-x-screen.png") || true
wait "$app_pid"
ls -l "$out"/*.png
