#!/usr/bin/env bash
# Brings up a one-node Slurm cluster (munged + slurmctld + slurmd) for cosmo's tests and CI.
#
# Everything lives in a state folder (${COSMO_SLURM_DIR:-/tmp/cosmo-slurm}): slurm.conf, the munge
# key and socket, spool and state folders, logs and the PIDs of the daemons this script started.
# The system's own /etc/slurm and /etc/munge are never touched: the daemons and every client are
# pointed at our files (`-f`, SLURM_CONF, AuthInfo=socket=...). Ports default to 16817/16818 so a
# real cluster on this machine is not disturbed.
#
# Idempotent: when its cluster is already up it only prints the SLURM_CONF line. Needs root (it
# installs packages with apt-get when they are missing and starts munged as the munge user).
#
#   scripts/slurm-up.sh          # prints: export SLURM_CONF=/tmp/cosmo-slurm/slurm.conf
#   scripts/slurm-down.sh        # stops exactly the daemons started here
set -euo pipefail

STATE=${COSMO_SLURM_DIR:-/tmp/cosmo-slurm}
CTLD_PORT=${COSMO_SLURM_CTLD_PORT:-16817}
SLURMD_PORT=${COSMO_SLURM_SLURMD_PORT:-16818}
CONF=$STATE/slurm.conf
export SLURM_CONF=$CONF

mkdir -p "$STATE"
# Two test files may call this at once: one of them does the work, the other waits and finds it up.
exec 9>"$STATE/.lock"
flock 9

say() { echo "slurm-up: $*" >&2; }
die() {
  say "$*"
  for f in "$STATE"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}

# Running (a killed daemon can linger as a zombie, which kill -0 would still find).
alive() {
  [ -f "$STATE/pids/$1" ] || return 1
  local state
  state=$(awk '{print $3}' "/proc/$(cat "$STATE/pids/$1")/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}

node_idle() { sinfo -h -N -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; }
# A cluster an older version of this script started lacks the partitions added since: restart it.
current_conf() { sinfo -h -o '%P' 2>/dev/null | grep -qx short; }

if alive munged && alive slurmctld && alive slurmd && node_idle && current_conf; then
  echo "export SLURM_CONF=$CONF"
  exit 0
fi

# --- packages ---------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
  ! command -v munged >/dev/null; then
  [ "$(id -u)" = 0 ] || die "slurm and munge are not installed, and installing them needs root"
  say "installing slurmctld slurmd slurm-client munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt or dpkg (unattended upgrades, a parallel install) may hold the locks: wait for it,
  # up to 10 minutes, rather than fail. DPkg::Lock::Timeout covers dpkg's lock; the package lists'
  # lock (apt-get update) is waited for by trying again.
  apt_wait() {
    local i
    for i in $(seq 60); do
      "$@" && return 0
      say "apt-get failed (another apt may hold its lock); trying again in 10 s ($i/60)"
      sleep 10
    done
    return 1
  }
  apt_install() { apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 slurmctld slurmd slurm-client munge >/dev/null; }
  # A fresh machine has no package lists yet.
  if ! apt_install 2>/dev/null; then
    apt_wait apt-get update -qq -o DPkg::Lock::Timeout=600 >/dev/null || die "apt-get update failed"
    apt_wait apt_install || die "apt-get install failed"
  fi
  # The packages may start the system's own daemons on their default config; ours do not use them.
fi

# --- state folder -----------------------------------------------------------------------------
# A half-started earlier attempt: stop what it left before starting afresh.
"$(dirname "$0")/slurm-down.sh" --quiet || true

# The key folder is private to munge; the socket folder must be reachable by every user.
mkdir -p "$STATE"/{munge,munge-key,ctld,spool,log,pids}
id munge >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin munge
if [ ! -s "$STATE/munge-key/munge.key" ]; then
  dd if=/dev/urandom of="$STATE/munge-key/munge.key" bs=1024 count=1 status=none
fi
# munged insists that its key is its own and private.
chown -R munge: "$STATE/munge" "$STATE/munge-key"
chmod 0755 "$STATE/munge"
chmod 0700 "$STATE/munge-key"
chmod 0400 "$STATE/munge-key/munge.key"
touch "$STATE/log/munged.log"
chown munge: "$STATE/log/munged.log"

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512))

cat >"$CONF" <<EOF
# Written by scripts/slurm-up.sh: a one-node test cluster. Safe to delete with the folder.
ClusterName=cosmo
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket.2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups inside containers: track processes by parentage, and do no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Without these, short array tasks start seconds apart.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MailProg=/bin/true
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
# Tests run a long-lived server job beside short array tasks: let up to 4 jobs share a CPU.
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
# A partition with a time limit, as real clusters have: cosmo serve checks its jobs' --time against it.
PartitionName=short Nodes=$HOST MaxTime=00:30:00 State=UP OverSubscribe=FORCE:4
EOF

# --- daemons ----------------------------------------------------------------------------------
# Pid files left by daemons that died (kill -9, reboot) would be mistaken for the new ones' below.
rm -f "$STATE/slurmctld.pid" "$STATE/slurmd.pid" "$STATE/munge/munged.pid"
# The daemons must not inherit the lock (fd 9), or the next slurm-up would wait on it forever.
say "starting munged"
runuser -u munge -- munged 9>&- \
  --socket="$STATE/munge/munge.socket.2" \
  --key-file="$STATE/munge-key/munge.key" \
  --log-file="$STATE/log/munged.log" \
  --pid-file="$STATE/munge/munged.pid" \
  --seed-file="$STATE/munge/munged.seed" ||
  die "munged did not start"
cp "$STATE/munge/munged.pid" "$STATE/pids/munged"

say "starting slurmctld"
slurmctld -f "$CONF" -i 9>&- || die "slurmctld did not start"
for _ in $(seq 50); do [ -s "$STATE/slurmctld.pid" ] && break; sleep 0.1; done
cp "$STATE/slurmctld.pid" "$STATE/pids/slurmctld"

say "starting slurmd"
slurmd -f "$CONF" 9>&- || die "slurmd did not start"
for _ in $(seq 50); do [ -s "$STATE/slurmd.pid" ] && break; sleep 0.1; done
cp "$STATE/slurmd.pid" "$STATE/pids/slurmd"

for _ in $(seq 300); do
  if node_idle; then
    say "cluster up ($HOST, $CPUS CPUs, state in $STATE)"
    echo "export SLURM_CONF=$CONF"
    # Tells callers (the tests) that this call started the cluster, so theirs is to stop it.
    echo "# started"
    exit 0
  fi
  # A node left DOWN by an earlier crash returns with an explicit resume.
  scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  sleep 0.1
done
die "the node did not become idle within 30 s (sinfo: $(sinfo -h -N 2>&1 | head -3))"
