"""`prefect.yaml`: every entrypoint resolves to a flow; `prefect deploy --all` registers both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def test_every_entrypoint_resolves_to_a_flow() -> None:
    """`path/to/module.py:function` → importable module, a Prefect flow under that name."""
    import importlib

    from prefect import Flow

    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text("utf-8"))
    entrypoints = {d["name"]: d["entrypoint"] for d in config["deployments"]}
    assert entrypoints
    for name, entrypoint in entrypoints.items():
        path, _, attribute = entrypoint.partition(":")
        assert (PROJECT / path).is_file(), f"{name}: {path} does not exist"
        module = importlib.import_module(".".join(Path(path).with_suffix("").parts))
        target = getattr(module, attribute, None)
        assert isinstance(target, Flow), f"{name}: {entrypoint} is not a Prefect flow"
        parameters = set(target.parameters.properties)
        assert set(d_params(config, name)) <= parameters, f"{name}: unknown parameters"
        assert not parameters & {"database_url", "settings", "url"}, f"{name}: secret parameter"


def d_params(config: dict, name: str) -> dict:
    return next(d for d in config["deployments"] if d["name"] == name).get("parameters") or {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.prefect
def test_deploy_all_registers_both_deployments(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "KB_PROJECT_DIR": str(PROJECT),
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(
                "prefect server did not become healthy: "
                + (tmp_path / "server.log").read_text()[-2000:]
            )
        client_env = {**env, "PREFECT_API_URL": api}

        def prefect(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [PREFECT, *args],
                env=client_env,
                cwd=PROJECT,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )

        created = prefect("work-pool", "create", "kb-process", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = prefect("--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        listed = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        by_name = {d["name"]: d for d in listed}
        assert {"kb-refresh", "kb-backfill"} <= set(by_name)
        schedules = by_name["kb-refresh"]["schedules"]
        assert schedules[0]["schedule"]["cron"] == "0 3 * * *"
        assert schedules[0]["schedule"]["timezone"] == "Europe/Moscow"
        assert by_name["kb-backfill"]["parameters"]["full"] is True
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
