"""What the soak publishes: generation meters, their keys, and every signed reading, signed before the run.

Reading ``i`` is interval ``k = i // meters`` of meter ``m = i % meters`` (one interval for every meter, then the
next), so its index follows from (meter, start) alone and every process agrees on it without a side table.
Meter keys are derived from a secret drawn at run time (never stored in the repository), so the signing workers
and the ledger side rebuild the same keys without passing private keys between processes.
Signed readings go to one file per interval (one canonical JSON reading per line), written by parallel workers
before the clock starts: signing is the meter's cost, not the path's, and must never limit the offered rate.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

INTERVAL = 900
DAY = 86_400
METERS_PER_SITE = 10
MAX_POWER_W = 10_000          # a 10 kW generator: at most 2,500 Wh in 15 minutes
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class LoadPlan:
    meters: int
    readings: int          # capacity: readings signed (the run publishes up to this many)
    day0: int              # UTC midnight of the first interval
    secret: str            # hex; derives the meter keys

    @classmethod
    def new(cls, meters: int, readings: int) -> LoadPlan:
        intervals = -(-readings // meters)
        days = -(-(intervals * INTERVAL) // DAY) + 1
        today = int(time.time()) // DAY * DAY
        return cls(meters, readings, today - days * DAY, secrets.token_hex(32))

    # -- identities ---------------------------------------------------------------------------------------------
    @property
    def sites(self) -> int:
        return max(1, -(-self.meters // METERS_PER_SITE))

    @property
    def intervals(self) -> int:
        return -(-self.readings // self.meters)

    @staticmethod
    def meter_id(m: int) -> str:
        return f"m-{m:05d}"

    @staticmethod
    def asset_id(m: int) -> str:
        return f"pv-{m:05d}"

    def site_of(self, m: int) -> str:
        return f"site-{m % self.sites:04d}"

    @staticmethod
    def owner_of_site(s: int) -> str:
        return f"Org1MSP:owner-{s:04d}"

    def owner_of(self, m: int) -> str:
        return self.owner_of_site(m % self.sites)

    def private_key(self, m: int):
        from cryptography.hazmat.primitives.asymmetric import ec

        digest = hashlib.sha256(bytes.fromhex(self.secret) + m.to_bytes(4, "big")).digest()
        return ec.derive_private_key(int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1())

    def meter_key(self, m: int):
        from vpp_edge.keys import MeterKey

        return MeterKey(self.meter_id(m), self.private_key(m))

    # -- readings -----------------------------------------------------------------------------------------------
    def start_of(self, k: int) -> int:
        return self.day0 + k * INTERVAL

    def wh(self, m: int, k: int) -> int:
        return 100 + (m * 7 + k) % 2000

    def index_of(self, meter_id: str, start: int) -> int:
        return (start - self.day0) // INTERVAL * self.meters + int(meter_id[2:])

    def topic(self, m: int) -> str:
        return f"vpp/{self.site_of(m)}/{self.meter_id(m)}/interval"

    def chunk_path(self, folder: Path, k: int) -> Path:
        return folder / f"{k:06d}.jsonl"

    def expected(self, published: int) -> dict[tuple[str, int], dict[str, int]]:
        """Per (meter, UTC day): readings and Wh of the first ``published`` readings."""
        out: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: {"readings": 0, "wh": 0})
        for i in range(published):
            k, m = divmod(i, self.meters)
            row = out[(self.meter_id(m), (self.start_of(k) // DAY) * DAY)]
            row["readings"] += 1
            row["wh"] += self.wh(m, k)
        return dict(out)


def _sign_worker(plan: LoadPlan, folder: str, worker: int, workers: int) -> int:
    from vpp_edge.intervals import Interval
    from vpp_edge.signing import canonical, sign_interval

    keys = [plan.meter_key(m) for m in range(plan.meters)]
    signed = 0
    for k in range(worker, plan.intervals, workers):
        count = min(plan.meters, plan.readings - k * plan.meters)
        lines = [canonical(sign_interval(Interval(keys[m].meter_id, "generation", plan.start_of(k), INTERVAL,
                                                  {"generated_wh": plan.wh(m, k)}), keys[m], 1))
                 for m in range(count)]
        path = plan.chunk_path(Path(folder), k)
        path.with_suffix(".tmp").write_bytes(b"\n".join(lines) + b"\n")
        path.with_suffix(".tmp").rename(path)   # a chunk exists only once complete
        signed += count
    return signed


def sign_all(plan: LoadPlan, folder: Path, workers: int = 2) -> dict:
    """Sign every reading of the plan into ``folder``; returns {"readings", "seconds", "per_s"}."""
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        signed = sum(pool.starmap(_sign_worker, [(plan, str(folder), w, workers) for w in range(workers)]))
    seconds = time.perf_counter() - began
    return {"readings": signed, "seconds": round(seconds, 1), "per_s": round(signed / seconds)}


def public_keys(plan: LoadPlan) -> list[str]:
    return [plan.meter_key(m).public_pem for m in range(plan.meters)]


def dump(plan: LoadPlan) -> str:
    return json.dumps(plan.__dict__)


def load(text: str) -> LoadPlan:
    return LoadPlan(**json.loads(text))
