#!/usr/bin/env bash
# Kills a `go test` mid-run with SIGKILL (the go command and the test
# binary, as a CI timeout does) and checks that nothing it started is
# left: no sshd, psmux server, pwsh, pwshsim or tmux of that run.
#
#   internal/ci/leftovers.sh        (from the project root; real pwsh
#                                    joins in when `. ../shared/pwsh/env.sh`
#                                    was sourced)
#
# The run is told apart from everything else on the machine by a mark in
# the environment ($PSMUX_TEST_RUN, inherited by what the tests start) and
# by its own TMPDIR in command lines (sshd hides its environment).
set -euo pipefail
cd "$(dirname "$0")/../.."

tmp=$(mktemp -d)
mark="leftovers-$$-$(date +%s%N)"
ready="$tmp/ready"

# the run's processes: the mark in the environment (exact, or nested:
# "$mark.…"), or $tmp in the command line
run_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qE "^PSMUX_TEST_RUN=$mark(\.|\$)" ||
      tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$tmp"; then
      grep -q '^State:.*Z' "$p/status" 2>/dev/null || echo "${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")"
    fi
  done
}

PSMUX_LEFTOVER_PROBE="$ready" PSMUX_TEST_RUN="$mark" TMPDIR="$tmp" \
  setsid go test -count=1 -run '^TestNothingOutlivesAKilledTest$' ./internal/e2e/server >"$tmp/out" 2>&1 &
gopid=$!
for _ in $(seq 1800); do # 3 minutes
  [ -e "$ready" ] && break
  kill -0 "$gopid" 2>/dev/null || { echo "go test ended before the probe was ready:"; cat "$tmp/out"; exit 1; }
  sleep 0.1
done
[ -e "$ready" ] || { echo "the probe was not ready after 3 minutes"; exit 1; }
echo "running, before the kill:"
run_pids | sed 's/^/  /'
kill -KILL -- "-$gopid" # go test and the test binary: the whole process group
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  left=$(run_pids)
  [ -z "$left" ] && { echo "killed: nothing of the run is left"; rm -rf "$tmp"; exit 0; }
  sleep 0.1
done
echo "left a minute after go test was killed:"
echo "$left" | sed 's/^/  /'
exit 1
