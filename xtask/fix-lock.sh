#!/usr/bin/env bash
# Points nuid back at rand 0.8 in Cargo.lock (or in the lock file given, e.g. fuzz/Cargo.lock).
# Run it after any dependency change.
#
# nuid (from wasmbus-rpc 0.15 via async-nats 0.31, and from wascap 0.11) asks for `rand >= 0.8`
# but only builds with 0.8. Another crate in the graph needs rand 0.10, and each time cargo
# re-resolves it points nuid at the highest rand it has, and the build fails in nuid. This is a
# shell script, not an xtask command, because xtask itself depends on nuid.
set -euo pipefail
lock="${1:-$(dirname "$0")/../Cargo.lock}"
rand_08=$(awk '/^name = "rand"$/ { getline; if ($3 ~ /^"0\.8\./) { gsub(/"/, "", $3); print $3 } }' "$lock")
if [ -z "$rand_08" ]; then
    echo "fix-lock: Cargo.lock has no rand 0.8 (is tokio-retry still pinned? cargo update -p tokio-retry --precise 0.3.0)" >&2
    exit 1
fi
awk -v rand08="$rand_08" '
    /^\[\[package\]\]$/ { in_nuid = 0 }
    /^name = "nuid"$/   { in_nuid = 1 }
    in_nuid && /^ "rand [0-9.]+",?$/ { sub(/rand [0-9.]+/, "rand " rand08) }
    { print }
' "$lock" > "$lock.tmp"
mv "$lock.tmp" "$lock"
echo "fix-lock: nuid uses rand $rand_08"
