"""Run one Milvus-backed build in a child process, killed on purpose by test_store_contract.py.

    python -m tests.milvus_build SETTINGS_JSON none         build and exit
    python -m tests.milvus_build SETTINGS_JSON inserting    SIGKILL itself at the 2nd insert
    python -m tests.milvus_build SETTINGS_JSON publishing   SIGKILL itself as it publishes

The hooks wrap the library's calls here: production code has no test branches.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from rag.runtime import configure_runtime

configure_runtime()

from rag.build import milvus_indexer  # noqa: E402
from rag.build.backends import build_index  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.index.milvus import client as milvus_client  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402


def _die(*_: Any, **__: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(settings_json: str, kill_at: str) -> int:
    settings = Settings.model_validate_json(settings_json)
    if kill_at == "publishing":
        milvus_indexer.publish = _die  # type: ignore[assignment]
    elif kill_at == "inserting":
        client = milvus_client.connect(settings)
        insert, calls = client.insert, []

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(args[0])
            if len(calls) == 2:
                _die()
            return insert(*args, **kwargs)

        client.insert = counted
    report = build_index(settings, FakeEmbedder())
    print(f"generation {report.generation}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
