#!/usr/bin/env bash
# bounded-run batch on a real Slurm: a one-node cluster on localhost (munged,
# slurmctld and slurmd started here, by pid, with a private munge socket,
# free ports and state under WORKDIR), a few hundred mixed jobs submitted as
# a job array of 4 shards with examples/slurm/batch_array.sbatch, merged
# with `bounded-run batch-merge`, and checked: every id exactly once with
# the right verdict, nothing left running. The daemons are stopped at the
# end. Slurm that does not come up is a failure, with the daemons' logs;
# only a machine where slurm-wlm/munge are missing and cannot be installed
# (not root) skips (exit 77).
#
#   slurm_test.sh BOUNDED_RUN MISBEHAVE WORKDIR
set -uo pipefail
bounded_run=$1 helper=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
example=$here/../../examples/slurm/batch_array.sbatch
python=/usr/bin/python3
tag=bs-slurm-$$-$RANDOM
pids=()

log() { echo "slurm_test: $*"; }

dump_logs() {
  for f in "$work"/logs/* "/run/munge/$tag.log"; do
    [[ -f $f ]] || continue
    echo "----- $f (last 60 lines)"
    tail -n 60 "$f"
  done
}

stop_daemons() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  pids=()
  rm -f "/run/munge/$tag".*
}

fail() {
  log "FAILED: $*"
  dump_logs
  stop_daemons
  exit 1
}

trap 'stop_daemons' EXIT
trap 'fail "interrupted"' INT TERM

for tool in slurmctld slurmd sbatch sinfo munged; do
  if ! command -v $tool >/dev/null 2>&1; then
    if [[ $(id -u) -ne 0 ]]; then
      log "SKIPPED: $tool is missing and this user cannot install slurm-wlm and munge (not root)"
      exit 77
    fi
    fail "$tool is missing: scripts/setup.sh installs slurm-wlm and munge"
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  log "SKIPPED: a one-node cluster needs root (slurmd, the munge socket folder under /run/munge)"
  exit 77
fi
[[ -x $python ]] || fail "$python is missing"

free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  return 1
}

rm -rf "$work"
mkdir -p "$work/state" "$work/spool" "$work/logs" "$work/out"

# munged: the package's key (created if missing), a private socket.
install -d -o munge -g munge -m 0755 /run/munge
key=/etc/munge/munge.key
if [[ ! -s $key ]]; then
  log "creating the munge key $key"
  install -d -o munge -g munge -m 0700 /etc/munge
  mungekey --create --keyfile="$key" || fail "mungekey failed"
  chown munge:munge "$key" && chmod 0400 "$key"
fi
socket=/run/munge/$tag.socket
setpriv --reuid=munge --regid=munge --init-groups \
  munged --foreground --socket="$socket" --key-file="$key" --pid-file="/run/munge/$tag.pid" \
  --seed-file="/run/munge/$tag.seed" --log-file="/run/munge/$tag.log" &
pids+=($!)
for _ in $(seq 100); do [[ -S $socket ]] && break; sleep 0.1; done
[[ -S $socket ]] || fail "munged did not create $socket"

host=$(hostname -s)
ctld_port=$(free_port) || fail "no free port"
slurmd_port=$(free_port) || fail "no free port"
cpus=$(nproc)
conf=$work/slurm.conf
cat >"$conf" <<EOF
ClusterName=bstest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/logs/slurmctld.log
SlurmdLogFile=$work/logs/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
NodeName=bsnode NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=bs Nodes=bsnode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

log "starting slurmctld (port $ctld_port) and slurmd (port $slurmd_port), $cpus CPUs"
started=$SECONDS
slurmctld -D -i -f "$conf" >"$work/logs/slurmctld.stdout" 2>&1 &
pids+=($!)
slurmd -D -f "$conf" -N bsnode >"$work/logs/slurmd.stdout" 2>&1 &
pids+=($!)
state=
for _ in $(seq 240); do
  state=$(sinfo -h -N -n bsnode -o '%T' 2>/dev/null)
  [[ $state == idle ]] && break
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a daemon (pid $pid) died"; done
  sleep 0.5
done
[[ $state == idle ]] || fail "the node did not become idle within 120 s (state '$state')"
log "cluster up after $((SECONDS - started)) s"

# A few hundred mixed jobs; every one names $tag so that leftovers are found.
jobs=$work/jobs.jsonl
"$python" - "$jobs" "$helper" "$tag" <<'EOF'
import json, sys
path, helper, tag = sys.argv[1:]
kinds = [
    ("exit", lambda i: {"args": [helper, "exit", str(i % 4), tag]}),
    ("timeout", lambda i: {"args": [helper, "sleep-forever", tag], "timeout": 0.3}),
    ("flood", lambda i: {"args": [helper, "flood-out", "forever", tag], "timeout": 0.3, "max_output": 32}),
    ("memory", lambda i: {"args": [helper, "alloc-mb", "200", tag], "memory_limit_mb": 40,
                          "memory_interval": 0.05, "timeout": 30}),
    ("missing", lambda i: {"args": ["bs-no-such-program-" + tag]}),
    ("big", lambda i: {"args": [helper, "flood-out", "100000", tag], "max_output": 16}),
]
with open(path, "w") as f:
    for i in range(300):
        name, make = kinds[i % len(kinds)]
        job = {"id": f"{name}-{i}"}
        job.update(make(i))
        f.write(json.dumps(job) + "\n")
EOF

log "sbatch --wait --array=0-3"
BOUNDED_RUN=$bounded_run BATCH_PARALLEL=4 sbatch --wait --array=0-3 --cpus-per-task=1 \
  --output="$work/logs/task-%a.out" --chdir="$work" "$example" "$jobs" "$work/out" \
  >"$work/logs/sbatch.out" 2>&1
rc=$?
cat "$work/logs/sbatch.out"
[[ $rc -eq 0 ]] || fail "sbatch --wait exited $rc"
for i in 0 1 2 3; do
  [[ -s $work/out/$i.jsonl ]] || fail "shard $i wrote no results ($work/out/$i.jsonl)"
done

"$bounded_run" batch-merge --jobs "$jobs" --output "$work/merged.jsonl" "$work"/out/*.jsonl ||
  fail "batch-merge found results missing, duplicated or cancelled"

"$python" - "$work/merged.jsonl" <<'EOF' || fail "wrong verdicts"
import json, sys
results = [json.loads(line) for line in open(sys.argv[1])]
ids = [r["id"] for r in results]
assert len(ids) == 300 and len(set(ids)) == 300, f"{len(ids)} results, {len(set(ids))} ids"
bad = []
for r in results:
    kind, i = r["id"].rsplit("-", 1)
    i = int(i)
    ok = {
        "exit": lambda: r["reason"] == "exited" and r["exit_code"] == i % 4,
        "timeout": lambda: r["reason"] == "timeout" and r["timeout"] is True,
        "flood": lambda: r["reason"] == "timeout" and r["stdout_truncated"] and len(r["stdout"]) == 32,
        "memory": lambda: r["reason"] == "memory_limit" and r["memory_limit_exceeded"] is True,
        "missing": lambda: r["reason"] == "error" and "bs-no-such-program" in r["error"],
        "big": lambda: r["reason"] == "exited" and r["stdout_total_bytes"] == 100000 and r["stdout_truncated"],
    }[kind]()
    if not ok:
        bad.append(r)
for r in bad[:5]:
    print("wrong verdict:", json.dumps(r)[:300])
sys.exit(1 if bad else 0)
EOF

# Nothing of the jobs is left running (give SIGKILLed processes a moment).
left=
for _ in $(seq 50); do
  left=$(pgrep -f -- "$tag" | grep -vxF -e "$$" "${pids[@]/#/-e}" || true)  # not the daemons
  [[ -z $left ]] && break
  sleep 0.1
done
[[ -z $left ]] || fail "processes of the jobs still running: $(ps -o pid,args -p ${left//$'\n'/,})"

log "PASSED: 300 jobs in 4 shards, each id once with its verdict, nothing left ($((SECONDS - started)) s)"
stop_daemons
exit 0
