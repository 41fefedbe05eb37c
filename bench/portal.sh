#!/usr/bin/env bash
# The collection portal under load (issue 17's goals): `zonestat serve`
# (release build) on a generated catalogue of ZONES zones (examples/generate),
# one account per zone made with `zonestat user add`, the period opened, then
# examples/upload_load.rs times, over loopback:
#
#   sequential   one zone's real form uploaded SEQ times, one after another,
#                each from connecting to the verdict's last byte;
#   at once      every zone's form at the same moment, each by its own zone;
#   + hostile    the same with HOSTILE files of tests/fixtures/hostile among
#                them (each must be refused or rejected);
#
# and samples /proc every millisecond for the server and its reader workers
# (the largest sum of resident sizes in one sample; the sum of each
# process's own peak as an upper bound), as bench/peak.py does.
#
# Settings (environment): ZONES=100, SEED=1, SEQ=50, HOSTILE=10,
# HOSTILE_FILES=a.xlsx,b.ods (instead of the first HOSTILE of the list in
# examples/upload_load.rs), PEAKS=1, BENCH_DIR=/tmp/zonestat-bench.
#
# Usage: bash bench/portal.sh

set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
zones=${ZONES:-100}
seed=${SEED:-1}
work=${BENCH_DIR:-${TMPDIR:-/tmp}/zonestat-bench}
gen=$work/portal-$zones-$seed

echo "building (release)…" >&2
(cd "$root" && cargo build --release --quiet --bin zonestat --example generate --example upload_load)
if [ ! -f "$gen/plan.toml" ]; then
    mkdir -p "$work"
    "$root/target/release/examples/generate" --zones "$zones" --seed "$seed" --period 2020-06 --out "$gen" >&2
fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$root/target/release/examples/upload_load" "$root/target/release/zonestat" "$gen" "$root/tests/fixtures/hostile"
