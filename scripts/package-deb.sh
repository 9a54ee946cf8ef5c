#!/usr/bin/env bash
# Builds the Debian package into target/debian/: the release binary, the man
# pages and shell completions it generates, then cargo-deb from Cargo.toml's
# [package.metadata.deb] (the binary stripped). Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null; then
    echo "installing cargo-deb" >&2
    cargo install --locked --quiet cargo-deb@^3 >&2
fi
cargo build --release --bin bailiwick >&2
rm -rf target/assets target/debian
target/release/bailiwick generate man --out target/assets/man
target/release/bailiwick generate completions --out target/assets/completions
cargo deb --no-build --strip --output target/debian/ >&2
ls target/debian/bailiwick_*.deb
