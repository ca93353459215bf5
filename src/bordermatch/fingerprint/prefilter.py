"""A pair-table pre-filter: which enrolled fingers are worth a Bozorth3 comparison.

Bozorth3 costs milliseconds a comparison, so a 1:N search cannot run it against every
enrolled finger. Each template is reduced to its minutia pairs, described by what rotation
and translation leave unchanged -- the pair's length ``d`` and the angles of both minutiae
relative to the line joining them (``a1``, ``a2``): Bozorth3's own pair-table features. Those
triples are quantised into keys of an inverted index (key -> enrolled finger ids). A probe
votes for every enrolled finger that shares a key with one of its pairs; to absorb
quantisation, each probe pair looks up the 2 nearest bins per dimension (8 keys) and both
of its orientations. Each vote also carries the rotation it implies (the difference of the
two pairs' directions), and a finger's score is its largest vote count in one rotation bin
(with its neighbour), so chance agreements, whose rotations scatter, count for little. That
count divided by the square root of the finger's pair count (large templates collect chance
votes) ranks the fingers; only the best ``k`` go on to Bozorth3. The pre-filter only ever
removes candidates: its recall cost is measured in docs/benchmarks_fingerprints.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bordermatch.fingerprint.minutiae import FingerTemplate

__all__ = ["PairIndex", "pair_features"]

D_MIN, D_MAX = 12.0, 160.0  # px at 500 ppi: shorter pairs are noise, longer ones distort
D_BIN = D_BIN_DEFAULT = 6.0
A_BINS = 32  # 11.25 degrees: MINDTCT's own direction step
R_BINS = 24  # 15 degrees of rotation per vote bin
N_D = int(np.ceil((D_MAX - D_MIN) / D_BIN))
N_KEYS = N_D * A_BINS * A_BINS
MAX_MINUTIAE = 150  # as Bozorth3: the most reliable ones


def pair_features(t: FingerTemplate, both_orientations: bool = False
                  ) -> NDArray[np.float64]:
    """(d, a1, a2, phi) of every minutia pair with ``D_MIN <= d < D_MAX``: length in px,
    minutia angles relative to the pair's direction and that direction, in degrees."""
    order = np.argsort(-t.quality.astype(np.int32), kind="stable")[:MAX_MINUTIAE]
    x = t.x[order].astype(np.float64)
    y = t.y[order].astype(np.float64)
    th = t.angle[order].astype(np.float64)
    i, j = np.triu_indices(x.size, k=1)
    if both_orientations:
        i, j = np.concatenate([i, j]), np.concatenate([j, i])
    dx, dy = x[j] - x[i], y[i] - y[j]  # y grows downwards; angles are counter-clockwise
    d = np.hypot(dx, dy)
    keep = (d >= D_MIN) & (d < D_MAX)
    phi = np.degrees(np.arctan2(dy[keep], dx[keep])) % 360.0
    a1 = (th[i[keep]] - phi) % 360.0
    a2 = (th[j[keep]] - phi) % 360.0
    return np.stack([d[keep], a1, a2, phi], axis=1)


def _rot_bin(phi: NDArray[np.float64]) -> NDArray[np.int64]:
    return (phi * (R_BINS / 360.0)).astype(np.int64) % R_BINS


def _keys_single(f: NDArray[np.float64]) -> NDArray[np.int64]:
    db = ((f[:, 0] - D_MIN) // D_BIN).astype(np.int64)
    ab = np.round(f[:, 1:3] * (A_BINS / 360.0)).astype(np.int64) % A_BINS
    return (db * A_BINS + ab[:, 0]) * A_BINS + ab[:, 1]


def _keys_multi(f: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The 2 nearest bins per dimension of each pair (8 keys), and the row of ``f`` each key
    came from. Gallery angles are rounded to the nearest bin, so the 2 nearest bin centres
    of the probe's angle cover a difference of up to one bin (11.25 degrees)."""
    u = (f[:, 0] - D_MIN) / D_BIN
    d0 = np.floor(u - 0.5).astype(np.int64)
    dbins = np.stack([d0, d0 + 1], axis=1)
    v = f[:, 1:3] * (A_BINS / 360.0)
    a0 = np.floor(v).astype(np.int64)
    a1 = np.stack([a0[:, 0], a0[:, 0] + 1], axis=1) % A_BINS
    a2 = np.stack([a0[:, 1], a0[:, 1] + 1], axis=1) % A_BINS
    keys = ((dbins[:, :, None, None] * A_BINS + a1[:, None, :, None]) * A_BINS
            + a2[:, None, None, :])
    rows = np.broadcast_to(np.arange(f.shape[0])[:, None, None, None], keys.shape)
    valid = np.broadcast_to(((dbins >= 0) & (dbins < N_D))[:, :, None, None], keys.shape)
    return keys[valid], rows[valid]


@dataclass(frozen=True, slots=True, eq=False)
class PairIndex:
    """Inverted index from pair keys to enrolled finger numbers (0..n-1)."""

    owners: NDArray[np.int32]  # finger number of each entry, entries sorted by key
    rot: NDArray[np.int8]  # rotation bin of each entry's pair direction
    starts: NDArray[np.int64]  # entries of key k are owners[starts[k]:starts[k+1]]
    norm: NDArray[np.float64]  # 1/sqrt(pair count) per finger

    @classmethod
    def build(cls, templates: list[FingerTemplate]) -> PairIndex:
        keys, owner, rot = [], [], []
        counts = np.zeros(len(templates), dtype=np.float64)
        for n, t in enumerate(templates):
            f = pair_features(t)
            keys.append(_keys_single(f))
            rot.append(_rot_bin(f[:, 3]).astype(np.int8))
            owner.append(np.full(f.shape[0], n, dtype=np.int32))
            counts[n] = f.shape[0]
        all_keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        order = np.argsort(all_keys, kind="stable")
        starts = np.searchsorted(all_keys[order], np.arange(N_KEYS + 1)).astype(np.int64)
        def cat(xs: list[NDArray], dt: type) -> NDArray:
            return np.concatenate(xs)[order] if xs else np.zeros(0, dt)

        return cls(cat(owner, np.int32), cat(rot, np.int8), starts,
                   1.0 / np.sqrt(np.maximum(counts, 1.0)))

    def __len__(self) -> int:
        return int(self.norm.size)

    def scores(self, probe: FingerTemplate) -> NDArray[np.float64]:
        """Pre-filter score of every enrolled finger (higher is more promising)."""
        n = len(self)
        if n == 0:
            return np.zeros(0)
        f = pair_features(probe, both_orientations=True)
        keys, rows = _keys_multi(f)
        lo, hi = self.starts[keys], self.starts[keys + 1]
        lengths = hi - lo
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(n)
        # Gather all entries of all probe keys in one vectorised step.
        offsets = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        idx = offsets + np.arange(total)
        probe_rot = np.repeat(_rot_bin(f[rows, 3]), lengths)
        r = (probe_rot - self.rot[idx]) % R_BINS
        votes = np.bincount(self.owners[idx].astype(np.int64) * R_BINS + r,
                            minlength=n * R_BINS).reshape(n, R_BINS).astype(np.float64)
        votes = votes + np.roll(votes, 1, axis=1)  # a rotation near a bin edge splits
        return votes.max(axis=1) * self.norm

    def shortlist(self, probe: FingerTemplate, k: int,
                  allowed: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
        """Finger numbers of the ``k`` best pre-filter scores (best first), among
        ``allowed`` fingers when given (e.g. those of the probe's finger position)."""
        s = self.scores(probe)
        if allowed is not None:
            s = np.where(allowed, s, -1.0)
            k = min(k, int(np.count_nonzero(allowed)))
        k = min(k, s.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        top = np.argpartition(-s, k - 1)[:k]
        return top[np.argsort(-s[top], kind="stable")]
