"""Verifying a batch's meter signatures, on more than one core when the batch is large.

ECDSA verification is the one cost per reading that nothing can remove, and `cryptography` holds the GIL while
it verifies, so a second core helps only from a second process. A batch of at least ``PARALLEL_FROM`` readings is
split into chunks verified by a small process pool (``VPP_VERIFY_WORKERS``: default one less than the cores, at
most 4; 0 verifies in this process). The answer is a pure function of the inputs whatever the worker count, so
endorsing peers with different core counts still agree. Parsed public keys are cached per PEM text.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import multiprocessing
import os
import select
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .codes import Code

PARALLEL_FROM = 64      # smaller batches verify in process: a round trip to a worker costs more than it saves
CHUNK = 128
_ECDSA = ec.ECDSA(hashes.SHA256())

# (public key PEM, signed bytes, DER signature)
Item = tuple[str, bytes, bytes]


@functools.lru_cache(maxsize=65_536)
def public_key(pem: str) -> ec.EllipticCurvePublicKey | None:
    """The parsed key, or None when the PEM is not an EC public key (keys are validated at registration)."""
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def verify_one(pem: str, data: bytes, signature: bytes) -> Code | None:
    key = public_key(pem)
    if key is None:
        return Code.UNKNOWN_KEY
    try:
        key.verify(signature, data, _ECDSA)
    except InvalidSignature:
        return Code.BAD_SIGNATURE
    return None


def verify_chunk(items: Sequence[Item]) -> list[str | None]:
    """Runs in a worker: codes travel as their string values."""
    out: list[str | None] = []
    for pem, data, signature in items:
        code = verify_one(pem, data, signature)
        out.append(None if code is None else code.value)
    return out


def configured_workers() -> int:
    raw = os.environ.get("VPP_VERIFY_WORKERS")
    if raw is not None:
        try:
            return max(0, int(raw))
        except ValueError:
            return 0
    return min(max((os.cpu_count() or 1) - 1, 0), 4)


_pool: ProcessPoolExecutor | None = None
_pool_pid = 0


def _exit_with(parent_pid: int) -> None:
    """Worker initializer: end this worker when the process that made the pool dies, even by SIGKILL. A pool's
    workers otherwise wait forever on a queue whose other end they hold themselves (seen: forkserver and worker
    left behind by every killed gateway or chaincode server)."""

    def watch() -> None:
        try:
            pidfd = os.pidfd_open(parent_pid)
        except (AttributeError, OSError):  # no pidfd (old kernel) or the parent is already gone
            while True:
                try:
                    os.kill(parent_pid, 0)
                except OSError:
                    os._exit(0)
                threading.Event().wait(1)
        select.select([pidfd], [], [])  # readable once the parent has exited
        os._exit(0)

    threading.Thread(target=watch, name="vpp-verify-parent-watch", daemon=True).start()


def _executor(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():  # a forked child never shares its parent's pool
        # forkserver: the workers come from a clean process, not a fork of one running gRPC threads
        context = multiprocessing.get_context("forkserver")
        _pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_exit_with,
                                    initargs=(os.getpid(),))
        _pool_pid = os.getpid()
    return _pool


def shutdown() -> None:
    global _pool
    if _pool is not None and _pool_pid == os.getpid():
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool = None


atexit.register(shutdown)


async def verify_batch(items: Sequence[Item]) -> list[Code | None]:
    """One answer per item, in order: None when the signature verifies, else UNKNOWN_KEY or BAD_SIGNATURE."""
    workers = configured_workers()
    if workers == 0 or len(items) < PARALLEL_FROM:
        return [verify_one(*item) for item in items]
    loop = asyncio.get_running_loop()
    pool = _executor(workers)
    chunks = [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
    try:
        answers = await asyncio.gather(*(loop.run_in_executor(pool, verify_chunk, chunk) for chunk in chunks))
    except BrokenProcessPool:  # a worker died (killed, out of memory): verify here, and start a new pool next time
        shutdown()
        answers = [verify_chunk(chunk) for chunk in chunks]
    return [None if code is None else Code(code) for answer in answers for code in answer]
