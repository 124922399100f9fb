#!/bin/sh
# Runs every test binary given, prints each one's result, and closes with the summed
# "N passed, N failed" line; exits non-zero when anything failed or a binary crashed.
passed=0; failed=0; status=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 20
        echo "$(basename "$t"): crashed or printed no summary (exit $rc)"
        failed=$((failed + 1)); status=1; continue
    fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    passed=$((passed + p)); failed=$((failed + f))
    [ "$rc" -eq 0 ] && [ "$f" -eq 0 ] || { printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed' | tail -n 40; status=1; }
    echo "$(basename "$t"): $line"
done
echo "$passed passed, $failed failed"
exit $status
