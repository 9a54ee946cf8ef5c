#!/bin/sh
# Keeps a data directory as this release leaves it, for the upgrade test
# (tests/integration/upgrade.rs): tests/data-dirs/<version>/.
#
# Run once per release, on the release's own commit. A kept directory is
# never rewritten: it stands for what that release wrote, and every later
# build must open it.
set -eu
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
out="tests/data-dirs/$version"
if [ -e "$out" ]; then
    echo "$out exists; a released version's data directory is never rewritten" >&2
    exit 1
fi
if [ -n "$(git status --porcelain -- . ':!tests/data-dirs')" ]; then
    echo "the working tree has uncommitted changes; run this on the release's commit" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
RELEASE_DATA_DIR_OUT="$work/data" \
    cargo test --release --test integration -- --ignored --exact upgrade::write_a_release_data_dir
mkdir -p "$out"
# The database, the activity log and the secret the test checks with. Not
# tls/ (a private key has no place in a repository; the daemon makes a new
# one) nor the admin socket.
cp "$work/data/bailiwick.redb" "$work/data/service-secret.txt" "$out/"
cp -R "$work/data/activity" "$out/"
[ -d "$work/data/outbox-spool" ] && cp -R "$work/data/outbox-spool" "$out/"
cat > "$out/MADE.md" <<MADE
# bailiwick $version data directory

Written by \`scripts/make-data-dir.sh\` at commit
$(git rev-parse HEAD) ($(git log -1 --format=%cs)): \`bailiwick init\`, then
the scene of \`write_the_scene\` in tests/integration/upgrade.rs through the
HTTPS API of that build, then a clean stop. Files:
$(cd "$out" && find . -type f ! -name MADE.md | sort | sed 's/^\.\//- /')

Never rewrite it: the upgrade test opens it with every later build.
MADE
echo "kept $out"
