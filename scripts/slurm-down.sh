#!/usr/bin/env bash
# Stops the one-node Slurm cluster that scripts/slurm-up.sh started: only the daemons whose PIDs it
# recorded, and only while those PIDs still run the expected program. The state folder is kept
# (its munge key and job state are reused by the next slurm-up); delete it to start from nothing.
set -uo pipefail

STATE=${COSMO_SLURM_DIR:-/tmp/cosmo-slurm}
quiet=${1:-}

stop() {
  local name=$1 file=$STATE/pids/$1
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  # A recycled PID must not be killed: check the process is still the daemon we started.
  if kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    [ "$quiet" = --quiet ] || echo "slurm-down: stopped $name ($pid)" >&2
  fi
  rm -f "$file"
}

# Compute daemons first, so running jobs are not left to a controller that is gone.
stop slurmd
stop slurmctld
stop munged
exit 0
