#!/usr/bin/env bash
# Runs every test suite, even after a failure, then prints one summary line:
# "N passed, M failed" counting suites.
set -u
cd "$(dirname "$0")/.."
suites=(test-core mutations test-sql test-log test-host test-python test-loading test-versions test-clients test-stress test-hold test-dist test-deploy)
passed=0 failed=0 failures=()
for suite in "${suites[@]}"; do
  echo "=== $suite"
  if make --no-print-directory "$suite"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("$suite")
  fi
done
echo
[ "$failed" -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "test suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
