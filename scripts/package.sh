#!/usr/bin/env bash
# Builds the release packages:
#   target/debian/wick_<version>-1_<arch>.deb       (cargo deb; metadata in Cargo.toml)
#   target/dist/wick-<version>-<arch>-linux.tar.gz  (binary, README, licences, icons, desktop file)
# (under $CARGO_TARGET_DIR instead of target/ when that is set).
#
# Needs cargo-deb (`cargo install cargo-deb --locked`). Checks the desktop entry and the AppStream
# metadata first when desktop-file-validate / appstreamcli are installed (Debian:
# desktop-file-utils, appstream).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(uname -m)

if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate packaging/wick.desktop
fi
if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net packaging/wick.metainfo.xml
fi

command -v cargo-deb >/dev/null || { echo "cargo-deb not found: cargo install cargo-deb --locked" >&2; exit 1; }
# Builds target/release/wick with --locked, strips it, and packs the assets listed in Cargo.toml.
cargo deb --locked
deb=$(ls -t "$target"/debian/wick_"$version"-*.deb | head -n 1)

name=wick-$version-$arch-linux
stage=$target/dist/$name
rm -rf "$stage" "$target/dist/$name.tar.gz"
mkdir -p "$stage/icons"
# The stripped binary that cargo deb packed, so the two packages ship the same bytes.
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/wick > "$stage/wick"
chmod 755 "$stage/wick"
cp README.md LICENSE-MIT LICENSE-APACHE "$stage/"
cp packaging/wick.desktop packaging/wick.metainfo.xml "$stage/"
cp assets/wick.svg "$stage/icons/"
cp assets/icons/wick-*.png "$stage/icons/"
tar -C "$target/dist" -czf "$target/dist/$name.tar.gz" "$name"
rm -rf "$stage"

echo "$deb"
echo "$target/dist/$name.tar.gz"
