#!/usr/bin/env bash
# Runs the runbook "Run the daily flow under Prefect" (docs/operations.md) as written, against
# the sandbox, then starts one kb-refresh deployment run and checks that it completed and
# published every artifact key the runbook lists. Prints the seconds each phase took.
#
#   bash benchmarks/runbook_prefect.sh        # from the repository root, after `make install`
#
# The block is taken from docs/operations.md, not copied, so the runbook cannot drift from what is
# verified. Only what would collide on a shared machine is substituted: the Prefect port (a
# free one), PREFECT_HOME, the log/env files and the data dir go to a temporary directory,
# the worker runs in the background instead of the foreground, and the deployments'
# schedules are paused before it starts (a scheduled run must not overlap the checked one).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kb-runbook.XXXXXX")
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export KB_DATA_DIR=$WORK/data
started=$(date +%s)

# the bash block under the runbook heading, with the substitutions above
.venv/bin/python - "$WORK" "$PORT" > "$WORK/runbook.sh" <<'PY'
import re, sys
work, port = sys.argv[1], sys.argv[2]
readme = open("docs/operations.md", encoding="utf-8").read()
section = readme.split("## Run the daily flow under Prefect", 1)[1]
block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
for old, new in [
    ("PREFECT_HOME=$PWD/.prefect", f"PREFECT_HOME={work}/prefect"),
    ("PREFECT_PORT=4200", f"PREFECT_PORT={port}"),
    ("> prefect-server.log", f"> {work}/prefect-server.log"),
    ("2> sandbox.log", f"2> {work}/sandbox.log"),
]:
    assert old in block, f"the runbook no longer contains {old!r}"
    block = block.replace(old, new)
assert "./sandbox.env" in block
env_file = "@SANDBOX_ENV@"
block = block.replace("./sandbox.env", env_file).replace("sandbox.env", env_file)
block = block.replace(env_file, f"{work}/sandbox.env")
worker = ".venv/bin/prefect worker start --pool kb-process"
assert block.rstrip().endswith(worker), "the runbook should end by starting the worker"
# the 03:00 Moscow schedule must not start a second run while this one is checked
pause = ".venv/bin/prefect --no-prompt deployment schedule pause --all > /dev/null\n"
block = block.rstrip()[: -len(worker)] + pause + f"{worker} > {work}/worker.log 2>&1 &\n"
print(block)
PY

cleanup() {
    # stop only what this script started: the children of its own process group
    for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
    .venv/bin/kb db stop > /dev/null 2>&1 || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "runbook: $WORK (Prefect on port $PORT)"
# shellcheck disable=SC1091
source "$WORK/runbook.sh"
ready=$(date +%s)
echo "server, deployments, sandbox and worker up: $((ready - started)) s"

.venv/bin/prefect deployment run kb-refresh/kb-refresh --watch --watch-timeout 1800 \
    > "$WORK/run.log" 2>&1 || { tail -n 40 "$WORK/run.log" "$WORK/worker.log"; exit 1; }
finished=$(date +%s)
echo "kb-refresh deployment run completed: $((finished - ready)) s"

.venv/bin/python - "$PREFECT_API_URL" <<'PY'
import re, sys
import httpx
api = sys.argv[1]
readme = open("docs/operations.md", encoding="utf-8").read()
section = readme.split("## Run the daily flow under Prefect", 1)[1].split("\n## ", 1)[0]
listed = set(re.findall(r"`([a-z-]+-(?:summary|estimates|report|index|transform))`", section))
listed.discard("extract-sql-summary")  # the sandbox has no SQL source
keys = {a["key"] for a in httpx.post(f"{api}/artifacts/filter", json={}, timeout=30).json()}
missing = sorted(listed - keys)
print(f"artifacts published: {len(keys & listed)} of {len(listed)} listed in the runbook")
if missing:
    sys.exit(f"missing artifact keys: {', '.join(missing)}")
PY
echo "runbook verified in $(( $(date +%s) - started )) s"
