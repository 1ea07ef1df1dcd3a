"""Which plinth modules run code while some work is in flight, and who entered them.

Shared by ``request_path.py`` and ``vector_store_paths.py``. A profiler hook on
every thread records the source file of each Python function under
``src/plinth/`` that is called (or resumed) while tracing is on, and, for
each, whether it was entered from outside its own package.

Two measures come out of one trace:

- **traced modules**: every plinth file that ran code; what the code review
  counted. Splitting a module in two raises it, whoever calls the halves.
- **reader's modules**: the traced modules a reader following the pipeline
  must open: those entered from another package (or from the event loop or
  a library with no plinth caller above it), not those only a module of their
  own package called. Work handed to a thread pool is attributed to the
  module that handed it over, the database door (``store/door.py``) being
  transparent: ``db.run(self.limits.get, ...)`` in ``billing/guard.py`` is
  billing calling billing; likewise a task's top coroutine is attributed to
  the module that created it (``sys.set_coroutine_origin_tracking_depth``).
  A package's internals behind its facade (privacy's detectors behind
  ``privacy/guard.py``) are not counted; the facade is. Top-level modules
  (``gateway.py``) are each their own package.
  **Packages crossed** counts the directories those modules are in, plus one
  for the top-level modules as a group.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

import plinth

ROOT = str(Path(plinth.__file__).parent) + "/"
_recording = False
_seen: set[str] = set()
_entered: set[str] = set()  # entered from outside their package at least once
_entered_from: dict[str, str] = {}  # for each of those, who entered it first ('?': no caller)
TRANSPARENT = ("store/door.py",)  # passes work on; the caller is whoever called it
_local = threading.local()  # on a pool thread: the module that submitted its work
_submit = ThreadPoolExecutor.submit


def _package(module: str) -> str:
    return module.rsplit("/", 1)[0] if "/" in module else module


def _plinth(filename: str) -> str | None:
    if filename.startswith(ROOT) and filename[len(ROOT) :] not in TRANSPARENT:
        return filename[len(ROOT) :]
    return None


def _task_origin() -> str | None:
    """On the event loop: the plinth module that created the running task's coroutine."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not on an event loop's thread
        return None
    origin = getattr(task.get_coro(), "cr_origin", None) if task is not None else None
    for filename, _line, _function in origin or ():
        if (module := _plinth(filename)) is not None:
            return module
    return None


def _nearest(frame: FrameType | None) -> str | None:
    """The nearest plinth module from ``frame`` up, skipping libraries and the door;
    at the top of a task's stack, the module that created the task."""
    while frame is not None:
        if (module := _plinth(frame.f_code.co_filename)) is not None:
            return module
        frame = frame.f_back
    return _task_origin()


def _caller(frame: FrameType) -> str | None:
    """Who called ``frame``'s function: up the stack, else whoever submitted the thread's work."""
    return _nearest(frame.f_back) or getattr(_local, "submitter", None)


def _traced_submit(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Future[Any]:
    submitter = _nearest(sys._getframe(1))

    def run() -> Any:
        _local.submitter = submitter
        try:
            return fn(*args, **kwargs)
        finally:
            _local.submitter = None

    return _submit(self, run)


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if not getattr(_local, "origins", False):  # the setting is per thread
        sys.set_coroutine_origin_tracking_depth(16)
        _local.origins = True
    if not _recording or event != "call":
        return
    name = frame.f_code.co_filename
    if not name.startswith(ROOT):
        return
    module = name[len(ROOT) :]
    _seen.add(module)
    if module not in _entered:
        caller = _caller(frame)
        if caller is None or _package(caller) != _package(module):
            _entered.add(module)
            _entered_from[module] = caller or "?"


def start() -> None:
    ThreadPoolExecutor.submit = _traced_submit  # type: ignore[method-assign,assignment]
    threading.setprofile(_profile)
    sys.setprofile(_profile)


def stop() -> None:
    sys.setprofile(None)
    threading.setprofile(None)
    ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]
    sys.set_coroutine_origin_tracking_depth(0)


def traced(work: Callable[[], object]) -> dict[str, list[str]]:
    """Run ``work`` with recording on: ``{"modules": [...], "reader": [...]}``.

    ``last_entered_from()`` then says who entered each reader's module first.
    """
    global _recording
    _seen.clear()
    _entered.clear()
    _entered_from.clear()
    _recording = True
    try:
        work()
    finally:
        _recording = False
    return {"modules": sorted(_seen), "reader": sorted(_entered)}


def last_entered_from() -> dict[str, str]:
    """The last traced work's reader's modules, each with the module that entered it first."""
    return dict(sorted(_entered_from.items()))


def every(works: list[Callable[[], object]]) -> dict[str, list[str]]:
    """Run each of ``works`` traced: the modules (and reader's modules) in all of them.

    What every request of a kind runs, without the work of a cache's periodic
    reload that one of them happened to do.
    """
    runs = [traced(work) for work in works]
    return {
        key: sorted(set.intersection(*(set(run[key]) for run in runs)))
        for key in ("modules", "reader")
    }


def packages(modules: list[str]) -> list[str]:
    """Directories crossed, with the top-level modules as one group, '(top)'."""
    return sorted({m.split("/")[0] if "/" in m else "(top)" for m in modules})
