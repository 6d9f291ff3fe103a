"""Local emulators of the Pyrus API, the Pyrus bot webhook sender and Confluence REST.

They serve a sample dataset "as of" an emulated clock, so the ETL, the bot and the demo
run end to end on 127.0.0.1 with no external service. Entry point: `start_sandbox()`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Clock", "Sandbox", "load_dataset", "send_task_event", "sign", "start_sandbox"]

_WHERE = {
    "Clock": "sample_data.emulators.dataset",
    "load_dataset": "sample_data.emulators.dataset",
    "Sandbox": "sample_data.emulators.sandbox",
    "start_sandbox": "sample_data.emulators.sandbox",
    "send_task_event": "sample_data.emulators.webhook_sender",
    "sign": "sample_data.emulators.webhook_sender",
}


def __getattr__(name: str) -> Any:
    """Import lazily: loading a dataset should not pull in FastAPI and uvicorn."""
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
