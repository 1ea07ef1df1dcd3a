"""The numpy BERT embedder's forward passes in a child process of their own.

Why a process: a forward pass is ~1,800 numpy calls, and each gives up the
interpreter lock for its work and takes it back after. In the server's
process other threads run plain Python (the event loop, SQLAlchemy, the
tokenizer) and hold the lock for up to the switch interval (5 ms) at a time,
so a pass that wants it back after a matrix product waits: the two copies of
run 8 kept ~1.6 of 2 cores busy where llama.cpp's own threads, which never
take the lock, kept ~1.85 (``benchmarks/results/ingest_throughput.md``). In
the child nothing but the passes takes the lock, and each copy talks to the
server over a socket: one send and one reply per text.

One child per model, one thread per copy in it (the copies share one set of
weights), each at its copy's nice value (nice is per thread on Linux). The
child's OpenBLAS gets the copies' thread count before it loads; the server's
own numpy is left as it is.

The wire, per socket (one per copy), native byte order:

* the child, once loaded: ``ready`` (status 0, no payload) or the load's error;
* a request: ``uint32 n`` then ``n`` int32 token ids;
* a reply: ``uint32 status``, ``uint32 size`` and ``size`` bytes: float32 values
  (status 0) or a UTF-8 message (status 1).

A child whose sockets all close (the server closed the engine, or died) exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct
import sys
import threading
from pathlib import Path

import numpy as np

_HEADER = struct.Struct("=II")
_COUNT = struct.Struct("=I")
OK, FAILED = 0, 1

# The setters numpy's OpenBLAS builds export (scipy-openblas wheels prefix theirs).
_BLAS_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def set_blas_threads(threads: int) -> bool:
    """Set the thread count of the OpenBLAS numpy has loaded (process-wide).

    numpy offers no call for it, and ``OPENBLAS_NUM_THREADS`` is read only when
    the library loads: find the loaded library in the process's memory map
    and call its setter. False where numpy uses another BLAS.
    """
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    # numpy's own copy (its wheel keeps it in numpy.libs beside the package, or
    # inside it): another library's OpenBLAS (faiss, with the Milvus extra) may
    # be loaded too, and setting that one would leave numpy's as it was.
    home = Path(np.__file__).resolve().parent
    own = [p for p in paths if p.startswith((str(home), str(home.parent / "numpy.libs")))]
    for path in sorted(own) or sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _BLAS_SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter(threads)
                return True
    return False


def read_exact(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``sock``; EOFError if it closes first."""
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("the other end closed the socket")
        data += chunk
    return bytes(data)


def send_reply(sock: socket.socket, status: int, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(status, len(payload)) + payload)


def read_reply(sock: socket.socket) -> tuple[int, bytes]:
    status, size = _HEADER.unpack(read_exact(sock, _HEADER.size))
    return status, read_exact(sock, size)


def send_ids(sock: socket.socket, ids: list[int]) -> None:
    sock.sendall(_COUNT.pack(len(ids)) + np.asarray(ids, np.int32).tobytes())


def _read_ids(sock: socket.socket) -> np.ndarray:
    (count,) = _COUNT.unpack(read_exact(sock, _COUNT.size))
    return np.frombuffer(read_exact(sock, 4 * count), np.int32)


def _serve_copy(model: object, sock: socket.socket, nice: int) -> None:
    from plinth.engines.numpy_bert import NumpyBert

    assert isinstance(model, NumpyBert)
    if nice and sys.platform.startswith("linux"):  # per-thread nice exists only there
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    with sock:
        while True:
            try:
                ids = _read_ids(sock)
            except (EOFError, OSError):
                return
            try:
                vector = model.embed_ids(ids)
            except Exception as exc:  # noqa: BLE001 - reported to the caller, the copy goes on
                status, payload = FAILED, f"{type(exc).__name__}: {exc}".encode()
            else:
                status, payload = OK, np.asarray(vector, np.float32).tobytes()
            try:
                send_reply(sock, status, payload)
            except OSError:  # the server went away while the text was embedding
                return


def serve(model_dir: Path, copies: list[tuple[int, int]], blas_threads: int) -> None:
    """The child: load the model, then answer each copy's socket (fd, nice) on a thread."""
    from plinth.engines.numpy_bert import NumpyBert

    # Ctrl-C reaches the whole process group: the server shuts down and closes
    # the sockets, which ends this process; it must not die first mid-text.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sockets = [socket.socket(fileno=fd) for fd, _ in copies]
    set_blas_threads(blas_threads)
    try:
        model = NumpyBert.from_model_dir(model_dir)
    except Exception as exc:  # reported to the server as the load's failure
        for sock in sockets:
            send_reply(sock, FAILED, f"{type(exc).__name__}: {exc}".encode())
        raise SystemExit(1) from exc
    for sock in sockets:
        send_reply(sock, OK, b"")
    threads = [
        threading.Thread(target=_serve_copy, args=(model, sock, nice), name=f"copy-{i}")
        for i, (sock, (_, nice)) in enumerate(zip(sockets, copies, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main(argv: list[str]) -> None:
    """``python -m plinth.engines.numpy_bert_worker MODEL_DIR BLAS_THREADS FD:NICE...``"""
    model_dir, blas_threads, *pairs = argv
    copies = [(int(fd), int(nice)) for fd, nice in (pair.split(":") for pair in pairs)]
    serve(Path(model_dir), copies, int(blas_threads))


if __name__ == "__main__":
    main(sys.argv[1:])
