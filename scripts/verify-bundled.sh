#!/usr/bin/env bash
# The main job: validate and verify the bundled papers, then write the public
# records. Exits with `verify ci`'s status (0 verified, 1 refuted, 2 bad input,
# 3 inconclusive), which `make run` cannot pass on: make turns any failing
# recipe into its own status 2.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-out}"
python="${PYTHON:-python3}"
mkdir -p "$out"
"$python" -m verifier validate || exit $?
status=0
"$python" -m verifier ci --jobs 2 --junit "$out/junit.xml" --summary "$out/summary.md" || status=$?
# The site is written whatever the verdicts.
"$python" -m verifier site "$out/site" >/dev/null || exit $?
echo "Records: $out/site/index.html (public record), $out/summary.md, $out/junit.xml; ledger in .verify/"
exit "$status"
