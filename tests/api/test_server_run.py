"""``plinth serve``'s server: the garbage collector settled once the app has started."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc
from plinth.server import run

seen = {}

async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            seen["frozen at startup"] = gc.get_freeze_count()
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return

startup = run._Server.startup

async def started(self, sockets=None):
    await startup(self, sockets)
    seen["frozen after"] = gc.get_freeze_count()
    seen["young threshold"] = gc.get_threshold()[0]
    self.should_exit = True

run._Server.startup = started
run.serve(app, host="127.0.0.1", port=0, log_level="warning")
import json
print(json.dumps(seen))
"""


def test_start_up_objects_are_frozen_once_the_app_has_started() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["frozen at startup"] == 0  # nothing frozen while the app starts
    assert seen["frozen after"] > 1000  # then everything start-up left
    assert seen["young threshold"] == 10_000
