#!/bin/sh
# How much src/ repeats itself (issue 14: "duplicates over src/ reports fewer pairs than before").
# Prints the first line of the `duplicates` tool's answer for:
#   (0) src/ as it was at the issue's filing commit (BASE, default 93adb73), from `git archive`;
#   (a) the whole of src/ in the working tree now;
#   (b) only the files of src/ that existed at BASE, as they are now (copied to a temporary
#       folder), so that the code added since for new domains does not hide whether the old code
#       got better or worse; files since split or moved are not in it (their count is printed);
#   (c) every file now in a folder of src/ that existed at BASE (so the successors of the split
#       files, e.g. incidents/service.py -> intake.py, reads.py, repeats.py, are counted too).
# Usage: sh bench/duplicates.sh [BASE]   (from anywhere in the checkout; DUPLICATES_SECONDS=120)
set -eu
base="${1:-93adb73}"
seconds="${DUPLICATES_SECONDS:-120}"
cd "$(git rev-parse --show-toplevel)"

work="$(mktemp -d "${TMPDIR:-/tmp}/dup-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
count() { duplicates --repo "$1" --seconds "$seconds" | head -1; }

mkdir "$work/base"
git archive "$base" src | tar -x -C "$work/base"
echo "(0) src/ at $base:"
count "$work/base"

echo "(a) the whole of src/ now:"
count src

mkdir "$work/files"
missing=0
for path in $(git ls-tree -r --name-only "$base" src/); do
    if [ -f "$path" ]; then
        mkdir -p "$work/files/$(dirname "$path")"
        cp "$path" "$work/files/$path"
    else
        missing=$((missing + 1))
    fi
done
echo "(b) the files of src/ that existed at $base, as they are now ($missing since split or moved):"
count "$work/files"

mkdir "$work/folders"
for dir in $(git ls-tree -r --name-only "$base" src/ | xargs -n1 dirname | sort -u); do
    if [ -d "$dir" ]; then
        mkdir -p "$work/folders/$dir"
        find "$dir" -maxdepth 1 -type f -exec cp {} "$work/folders/$dir/" \;
    fi
done
echo "(c) every file now in a folder of src/ that existed at $base:"
count "$work/folders"
