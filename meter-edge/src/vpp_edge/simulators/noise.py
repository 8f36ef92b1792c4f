"""Seeded noise that depends only on (seed, stream, index), never on call order: the same seed gives the same
registers whatever was polled before."""

from __future__ import annotations

import hashlib


def unit_noise(seed: int, stream: str, index: int) -> float:
    """A deterministic number in [0, 1)."""
    digest = hashlib.blake2b(f"{seed}:{stream}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def smooth_noise(seed: int, stream: str, t: float, period: float) -> float:
    """Noise in [0, 1) interpolated linearly between knots `period` seconds apart, so it varies smoothly in time."""
    k = int(t // period)
    frac = (t - k * period) / period
    a, b = unit_noise(seed, stream, k), unit_noise(seed, stream, k + 1)
    return a + (b - a) * frac
