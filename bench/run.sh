#!/usr/bin/env bash
# End-to-end benchmark of `zonestat consolidate` on generated data.
#
# For each size N (default 5, 100 and 1,000 zones) it generates a catalogue of
# N zones and a data folder with one monthly period (2020-06) and the three
# December folders before it (examples/generate), then times:
#
#   floor        open every workbook with calamine and touch every cell, on
#                one core, nothing else (examples/floor) — the least a run
#                must cost;
#   consolidate  `zonestat consolidate` end to end (read, check, aggregate,
#                assess, write the workbook): wall time, CPU time of the
#                parent process (user + system, all cores; GNU time does not
#                see the workers, which are never waited for), the parent's
#                peak memory (GNU time's maximum resident set size) and, in
#                one more run, the peak of all processes together (parent and
#                workers: bench/peak.py samples /proc every millisecond and
#                also sums each process's own peak, an upper bound);
#   round trip   every workbook parsed on one core in process and through one
#                worker process (examples/roundtrip): the difference per file
#                is what the process boundary costs.
#
# Each is run RUNS times (default 5) after a warm-up; the table shows the
# median time and the largest peak memory. Files are read from the page cache
# (the warm-up reads them), as on a second run over the same folder.
#
# Settings (environment): SIZES="5 100 1000", RUNS=5, SEED=1, PERIOD=2020-06,
# BENCH_DIR=/tmp/zonestat-bench (generated data is kept there and reused),
# ZONESTAT=path/to/zonestat to time another build of the program,
# SOFFICE=1 also opens each workbook in LibreOffice (headless, converting its
# 分区对比 sheet to csv) to check that it opens with every zone's column.
# With strace installed, one extra run counts how often each data file is
# opened (every file once is the design: history is read once and reused).
#
# Usage: bash bench/run.sh

set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
sizes=${SIZES:-"5 100 1000"}
runs=${RUNS:-5}
seed=${SEED:-1}
period=${PERIOD:-2020-06}
work=${BENCH_DIR:-${TMPDIR:-/tmp}/zonestat-bench}

if [ ! -x /usr/bin/time ]; then
    echo "GNU time is missing: installing it (apt-get install -y time)" >&2
    apt-get install -y time >/dev/null
fi

echo "building (release)…" >&2
(cd "$root" && cargo build --release --quiet --bin zonestat --example generate --example floor --example roundtrip)
bin=${ZONESTAT:-$root/target/release/zonestat}
generate=$root/target/release/examples/generate
floor=$root/target/release/examples/floor
roundtrip=$root/target/release/examples/roundtrip
mkdir -p "$work"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Generated data is reused while the generator and its settings are the same.
version="$(sha256sum "$generate" | cut -c1-16) $seed $period"
rows=()
for n in $sizes; do
    dir=$work/n$n
    if [ "$(cat "$dir/.generated" 2>/dev/null)" != "$version" ]; then
        echo "generating $n zones…" >&2
        rm -rf "$dir"
        "$generate" --zones "$n" --seed "$seed" --period "$period" --out "$dir" >&2
        echo "$version" >"$dir/.generated"
    fi
    workbooks=$(find "$dir/data" -type f -name '*.xlsx' ! -name '~$*' | wc -l)
    files=$(find "$dir/data" -type f | wc -l)
    mb=$(du -sm "$dir/data" | cut -f1)
    # Warm-up: the page cache, and each program once.
    find "$dir/data" -type f -exec cat {} + >/dev/null
    "$floor" "$dir/data" >/dev/null
    "$bin" --catalogue "$dir/plan.toml" consolidate "$dir/data" --period "$period" -o "$dir/out.xlsx" >/dev/null

    echo "timing $n zones ($workbooks workbooks), $runs runs each…" >&2
    floors=()
    walls=()
    cpus=()
    rss=0
    for _ in $(seq "$runs"); do
        floors+=("$("$floor" "$dir/data" | sed -E 's/.* cells, ([0-9.]+) s,.*/\1/')")
        status=0
        /usr/bin/time -f '%e %M %U %S' -o "$dir/time.txt" \
            "$bin" --catalogue "$dir/plan.toml" consolidate "$dir/data" --period "$period" \
            -o "$dir/out.xlsx" >"$dir/run.txt" || status=$?
        if [ "$status" -ne 0 ]; then
            echo "zonestat consolidate exited with $status for $n zones:" >&2
            cat "$dir/run.txt" >&2
            exit 1
        fi
        read -r wall kb user sys <"$dir/time.txt"
        walls+=("$wall")
        cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')")
        [ "$kb" -gt "$rss" ] && rss=$kb
    done
    # All processes together (parent + workers), in one more run.
    read -r _ all _ bound _ < <(python3 "$root/bench/peak.py" "$bin" --catalogue "$dir/plan.toml" \
        consolidate "$dir/data" --period "$period" -o "$dir/out.xlsx")
    all=$(awk -v a="$all" -v b="$bound" 'BEGIN { print (a > b ? a : b) }')
    trip=$("$roundtrip" "$bin" "$dir/data" | sed -E 's/.*round trip (-?[0-9.]+) ms.*/\1/')
    f=$(printf '%s\n' "${floors[@]}" | median)
    w=$(printf '%s\n' "${walls[@]}" | median)
    cpu_s=$(printf '%s\n' "${cpus[@]}" | median)
    # Each data file opened once? (strace counts the opens of every file.)
    once="—"
    if command -v strace >/dev/null; then
        strace -f -qq -e trace=openat -o "$dir/strace.txt" \
            "$bin" --catalogue "$dir/plan.toml" consolidate "$dir/data" --period "$period" -o "$dir/out.xlsx" >/dev/null || true
        most=$(grep -o "\"$dir/data/[^\"]*/[^\"]*\"" "$dir/strace.txt" | sort | uniq -c | awk '$1 > m { m = $1 } END { print m + 0 }')
        opened=$(grep -o "\"$dir/data/[^\"]*/[^\"]*\"" "$dir/strace.txt" | sort -u | wc -l)
        once="$opened/$files, at most ${most}×"
    fi
    # Does LibreOffice open the workbook? Its 分区对比 sheet (the 5th) as csv:
    # a row must have every zone's column.
    lo="—"
    if [ "${SOFFICE:-0}" = 1 ]; then
        rm -rf "$dir/lo"
        start=$(date +%s.%N)
        timeout 900 soffice --headless --norestore \
            --convert-to 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,5' \
            --outdir "$dir/lo" "$dir/out.xlsx" >/dev/null 2>&1 || true
        csv=$(find "$dir/lo" -name '*.csv' 2>/dev/null | head -1)
        cols=0
        [ -n "$csv" ] && cols=$(awk -F, 'NR == 5 { print NF }' "$csv")
        if [ "$cols" -eq $((n + 4)) ]; then
            lo=$(awk -v s="$start" -v e="$(date +%s.%N)" -v c="$cols" 'BEGIN { printf "opens, %d columns (%.1f s)", c, e - s }')
        else
            lo="FAILED ($cols columns)"
        fi
    fi
    xlsx_kb=$(($(stat -c %s "$dir/out.xlsx") / 1024))
    rows+=("$(awk -v n="$n" -v wb="$workbooks" -v fl="$files" -v mb="$mb" -v f="$f" -v w="$w" \
        -v rss="$rss" -v x="$xlsx_kb" -v lo="$lo" -v once="$once" -v cpu="$cpu_s" \
        -v all="$all" -v trip="$trip" 'BEGIN {
            printf "| %s | %s | %s | %s | %.3f | %.3f | %.2f× | %.2f | %.1f | %.1f | %.2f | %.3f | %s | %s | %s |",
                n, wb, fl, mb, f, w, w / f, cpu, rss / 1024, all, 1000 * w / fl, trip, once, x, lo }')")
done

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
echo
echo "Machine: $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ { print $2 }') GB RAM, $(uname -sr); load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Data: period $period + December $(( ${period%%-*} - 3 ))–$(( ${period%%-*} - 1 )), seed $seed; median of $runs runs, warm page cache."
echo
echo "| zones | workbooks | files | data MB | floor, 1 core (s) | consolidate wall (s) | wall ÷ floor | parent CPU (s) | peak memory, parent (MB) | peak memory, all processes (MB) | wall ms per file | worker round trip per file (ms) | files opened | workbook KB | LibreOffice |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"
printf '%s\n' "${rows[@]}"

# The code-size goals of issue 14: the reader under 2,000 lines, and what src/ holds.
root=$(cd "$(dirname "$0")/.." && pwd)
lines() { find "$@" -name '*.rs' -exec cat {} + | wc -l; }
echo
echo "Code: src/read $(lines "$root/src/read") lines (goal < 2,000); src/ $(lines "$root/src") lines, of which the portal (src/serve) $(lines "$root/src/serve") and the archive (src/archive) $(lines "$root/src/archive")."
