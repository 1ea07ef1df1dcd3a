"""Ingest every bomb through the API in a fresh process and report its memory (run as a script).

``python bomb_rss.py DATA_DIR`` prints one JSON object: each file's final
status and ``last_error``, and the process's resident memory in KiB when
idle (the app started, one ordinary file ingested), at its peak while the
bombs were ingested (VmHWM, reset after the idle reading), and afterwards.
A subprocess, so the test's own memory and other tests' do not count.
"""

from __future__ import annotations

import gc
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bombs import docx_bomb, nested_docx, nested_html, nested_json, pdf_flate_bomb
from starlette.testclient import TestClient
from vssupport import ADMIN, fake_app, sdk


def memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak() -> bool:
    """Make VmHWM start again from the current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def ingest(http: TestClient, store_id: str, name: str, data: bytes) -> dict[str, object]:
    client = sdk(http, ADMIN)
    file_id = client.files.create(file=(name, io.BytesIO(data)), purpose="assistants").id
    client.vector_stores.files.create(vector_store_id=store_id, file_id=file_id)
    stores = http.app.app.state.services.vector_stores  # type: ignore[attr-defined]
    http.portal.call(stores.ingestor.idle)  # type: ignore[union-attr]
    row = client.vector_stores.files.retrieve(file_id=file_id, vector_store_id=store_id)
    error = row.last_error
    return {
        "status": row.status,
        "code": None if error is None else error.code,
        "message": None if error is None else error.message,
    }


def main(data_dir: Path) -> None:
    bombs = {
        "bomb.docx": docx_bomb(),  # 1 MB inflating to 1 GiB
        "bomb.pdf": pdf_flate_bomb(),  # one content stream inflating to 1 GiB
        "deep.json": nested_json(1_000_000),
        "deep.html": nested_html(200_000),
        "deep.docx": nested_docx(5_000),
    }
    with fake_app(data_dir) as http:
        store_id = sdk(http, ADMIN).vector_stores.create(name="bombs").id
        warm = ingest(http, store_id, "ok.txt", b"Refunds are possible within 30 days.")
        gc.collect()
        reset = reset_peak()
        idle = memory_kib("VmRSS")
        results = {name: ingest(http, store_id, name, data) for name, data in bombs.items()}
        peak = memory_kib("VmHWM")
        gc.collect()
        after = memory_kib("VmRSS")
    report = {"warm": warm, "results": results, "peak_reset": reset}
    report |= {"idle_kib": idle, "peak_kib": peak, "after_kib": after}
    print(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
