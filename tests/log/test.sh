#!/usr/bin/env bash
# walguard's own log destination (WALGUARD_LOG), end to end through the sqlite3 shell:
# a refused downgrade reaches a file, stderr and a syslog socket; the rate limit holds a
# loop of refusals to its burst and reports what it dropped; invalid values and
# destinations that cannot be written fall back to stderr with one warning, and the
# extension still loads and refuses; unset, nothing of walguard's own is written.
#
#   tests/log/test.sh LIB
set -u
lib=$(realpath "$1")
lib=${lib%.so}
work=$(mktemp -d /tmp/walguard-log.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

db=$work/app.db
sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE t(x);" >/dev/null
# One guarded shell: load, open, run stdin; stdout and stderr to files.
guarded() { # out err [env...] < sql
  local out=$1 err=$2; shift 2
  env "$@" sqlite3 :memory: -cmd ".load $lib" -cmd ".open $db" >"$out" 2>"$err"
}
line_re="^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z walguard\[[0-9]+\]: \(1\) walguard: refused journal_mode=DELETE, policy enforce: '$db'\$"
refusal="walguard: refused journal_mode=DELETE on '$db'" # the shell's error message
header() { od -An -tu1 -j18 -N2 "$db" | tr -s ' ' | sed 's/^ //'; }

# 1. A file: the refusal is its one line, in the documented format.
log=$work/walguard.log
echo "PRAGMA journal_mode=DELETE;" | guarded "$work/out" "$work/err" WALGUARD_LOG="$log"
check "file: one line, the refusal" '[ "$(wc -l <"$log")" = 1 ] && grep -Eq "$line_re" "$log"'
check "file: the shell still got the refusal as its error" 'grep -qF "$refusal" "$work/err"'
check "file: the header is still WAL" '[ "$(header)" = "2 2" ]'
check "file: nothing of walguard's own on stderr" '! grep -q "walguard\[" "$work/err"'
# A second process appends to the same file.
echo "PRAGMA journal_mode=TRUNCATE;" | guarded "$work/out" "$work/err" WALGUARD_LOG="$log"
check "file: a second process appends" '[ "$(wc -l <"$log")" = 2 ] && grep -q "refused journal_mode=TRUNCATE" "$log"'

# 2. The rate limit: 200 refusals in a loop, a pause past one period, one more refusal.
log=$work/flood.log
{ echo ".bail off"; for _ in $(seq 200); do echo "PRAGMA journal_mode=DELETE;"; done
  echo ".shell sleep 1.2"; echo "PRAGMA journal_mode=DELETE;"; } >"$work/flood.sql"
start=$(date +%s.%N)
guarded "$work/out" "$work/err" WALGUARD_LOG="$log" <"$work/flood.sql"
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
errors=$(grep -c "walguard: refused journal_mode=DELETE on " "$work/err")
written=$(grep -c "refused journal_mode=DELETE" "$log")
dropped=$(sed -n 's/.*walguard: \([0-9]*\) log lines\{0,1\} dropped by the rate limit$/\1/p' "$log" | paste -sd+ | bc)
echo "   flood: $errors refusals in ${elapsed}s, $written lines written, ${dropped:-0} reported dropped"
check "rate limit: the shell saw all 201 refusals" '[ "$errors" = 201 ]'
check "rate limit: at most the burst (20) plus one a second were written" \
  '[ "$written" -ge 21 ] && [ "$written" -le $((20 + ${elapsed%.*} + 2)) ]'
check "rate limit: every refusal written or reported dropped" '[ $((written + ${dropped:-0})) = 201 ]'
check "rate limit: the report comes right before the line after the pause" \
  'tail -n 2 "$log" | head -n 1 | grep -q "dropped by the rate limit" && tail -n 1 "$log" | grep -Eq "$line_re"'

# 3. stderr.
echo "PRAGMA journal_mode=DELETE;" | guarded "$work/out" "$work/err" WALGUARD_LOG=stderr
check "stderr: the refusal line" 'grep -Eq "$line_re" "$work/err"'

# 4. syslog, to a datagram socket of our own (syslog:/path; plain "syslog" is /dev/log).
sock=$work/log.sock
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(20)
open(sys.argv[1] + ".ready", "w").close()
sys.stdout.write(s.recv(4096).decode() + "\n")' "$sock" >"$work/syslog.out" &
receiver=$!
for _ in $(seq 200); do [ -e "$sock.ready" ] && break; sleep 0.05; done
echo "PRAGMA journal_mode=DELETE;" | guarded "$work/out" "$work/err" WALGUARD_LOG="syslog:$sock"
wait "$receiver"
check "syslog: one datagram, facility user, severity err" \
  'grep -Eq "^<11>walguard\[[0-9]+\]: \(1\) walguard: refused journal_mode=DELETE, policy enforce: '"'$db'"'\$" "$work/syslog.out"'

# 5. Fallbacks: an invalid value, a socket that is not there, a file that cannot be opened.
for value in relative.log "syslog:$work/no.sock" "$work/no/such/dir/x.log"; do
  echo "PRAGMA journal_mode=DELETE;" | guarded "$work/out" "$work/err" WALGUARD_LOG="$value"
  check "fallback ($value): one warning, then the line on stderr, the downgrade refused" \
    '[ "$(grep -c "^walguard: WALGUARD_LOG=.*; logging to stderr instead$" "$work/err")" = 1 ] &&
     grep -Eq "$line_re" "$work/err" && grep -qF "$refusal" "$work/err" && [ "$(header)" = "2 2" ]'
done

# 6. Unset (and off): nothing of walguard's own anywhere.
echo "PRAGMA journal_mode=DELETE;" | guarded "$work/out" "$work/err"
check "unset: the refusal, and no line of walguard's own on stderr" \
  'grep -qF "$refusal" "$work/err" && ! grep -q "walguard\[" "$work/err" && ! grep -q WALGUARD_LOG "$work/err"'
echo "PRAGMA journal_mode=DELETE;" | guarded "$work/out" "$work/err" WALGUARD_LOG=off
check "off: no line of walguard's own on stderr" '! grep -q "walguard\[" "$work/err" && ! grep -q WALGUARD_LOG "$work/err"'

echo "log: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
