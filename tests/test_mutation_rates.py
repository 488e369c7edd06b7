"""The documented rates of every mutation preset, measured on the children of ``space.mutate``.

README ("Mutation presets"), for V vertices and k ops: ``"nb101"`` flips each edge bit with
probability 1/V and changes each interior op with 1/(V-2); ``"bananas"`` 1/(V(V-1)/2) and
1/(V-2); ``"naslib"`` 1/V and 1/k. The parent (here a cell with all V vertices, so that it is its
own V x V matrix) is mutated and redrawn until the child is valid. A child that keeps all V
vertices keeps every vertex in place, so its flipped edges and changed ops can be read off
position by position:

* ops: validity depends on the edges only, so among those children each interior op is changed
  with exactly the documented probability, to each other op equally often;
* edges: the child's matrix M is a draw of the parent's matrix E with each bit flipped with
  probability p, conditioned on M being a V-vertex valid cell (the set A, enumerated here over
  all 2^(V(V-1)/2) matrices), so P(M) is proportional to (p / (1 - p))^d(E, M); the expected
  frequency of each flipped bit follows exactly.

Each measured frequency is compared with its expectation by a z-score on the binomial standard
error, |z| < 4.5 (about 500 comparisons; seeded, so the outcome is fixed), and the measured
edge flips are shown to reject the other presets' edge rates (|z| > 10), so the test can tell
the presets apart. The expectations are computed here with numpy from the matrices alone.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nasfast import SearchSpace

#: |z| allowed between a measured frequency and its expectation.
TOLERANCE = 4.5
#: Children drawn per parent.
CHILDREN = 40_000
#: Parents per space and preset.
PARENTS = 3

SPACES = {
    "nb101": (7, 9, ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]),
    "6-vertices-2-ops": (6, 15, ["a", "b"]),
}


def documented_rates(preset: str, v: int, k: int) -> tuple[float, float]:
    """(edge flip, op change) probabilities as the README states them."""
    return {
        "nb101": (1 / v, 1 / (v - 2)),
        "bananas": (1 / (v * (v - 1) / 2), 1 / (v - 2)),
        "naslib": (1 / v, 1 / k),
    }[preset]


def test_documented_rates_for_nas_bench_101() -> None:
    """The README's NAS-Bench-101 figures: 1/7 and 1/5, 1/21 and 1/5, 1/7 and 1/3."""
    assert documented_rates("nb101", 7, 3) == (1 / 7, 1 / 5)
    assert documented_rates("bananas", 7, 3) == (1 / 21, 1 / 5)
    assert documented_rates("naslib", 7, 3) == (1 / 7, 1 / 3)


def popcount(masks: np.ndarray) -> np.ndarray:
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    return table[masks.astype("<u4").view(np.uint8)].reshape(-1, 4).sum(axis=1)


class Matrices:
    """Every V x V upper-triangular matrix as a bit mask (bit b is the edge ``pairs[b]``) and
    the set A of those that are V-vertex cells of the space (nothing pruned, edge limit kept)."""

    def __init__(self, v: int, max_edges: int) -> None:
        self.v = v
        self.pairs = list(itertools.combinations(range(v), 2))
        masks = np.arange(2 ** len(self.pairs), dtype=np.uint32)
        ok = popcount(masks) <= max_edges
        for u in range(v):
            into = sum(1 << b for b, (_, y) in enumerate(self.pairs) if y == u)
            out = sum(1 << b for b, (x, _) in enumerate(self.pairs) if x == u)
            # edges point forward, so in- and out-edges everywhere mean every vertex is on an
            # input-output path and nothing is pruned
            if u > 0:
                ok &= (masks & into) != 0
            if u < v - 1:
                ok &= (masks & out) != 0
        self.valid = masks[ok]
        self.bits = ((self.valid[:, None] >> np.arange(len(self.pairs), dtype=np.uint32)) & 1).astype(bool)

    def mask_of(self, adjacency: np.ndarray) -> np.ndarray:
        """Bit masks of a batch of V x V matrices."""
        out = np.zeros(len(adjacency), dtype=np.uint32)
        for b, (x, y) in enumerate(self.pairs):
            out |= adjacency[:, x, y].astype(np.uint32) << np.uint32(b)
        return out

    def expected_flips(self, parent: int, p: float) -> np.ndarray:
        """P(bit b differs from the parent's | the child is in A), for flip probability p."""
        flipped = self.bits ^ ((parent >> np.arange(len(self.pairs))) & 1).astype(bool)
        weights = (p / (1 - p)) ** flipped.sum(axis=1)
        return (weights @ flipped) / weights.sum()


def z_scores(observed: np.ndarray, expected: np.ndarray, n: int) -> np.ndarray:
    """Binomial z-scores; where the expectation is exactly 0 or 1 (a flip that always makes the
    child lose a vertex), any other observation is infinitely unlikely."""
    observed, expected = np.asarray(observed, dtype=float), np.asarray(expected, dtype=float)
    se = np.sqrt(expected * (1 - expected) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (observed - expected) / se
    return np.where(se > 0, z, np.where(np.isclose(observed, expected, rtol=0, atol=1e-12), 0.0, np.inf))


@pytest.fixture(scope="module", params=list(SPACES))
def setting(request: pytest.FixtureRequest) -> tuple[SearchSpace, Matrices]:
    v, e, ops = SPACES[request.param]
    space = SearchSpace.nb101() if request.param == "nb101" else SearchSpace(v, e, ops)
    return space, Matrices(v, e)


@pytest.mark.parametrize("preset", ["nb101", "bananas", "naslib"])
def test_mutation_rates_match_the_documented_rates(setting: tuple[SearchSpace, Matrices], preset: str) -> None:
    space, matrices = setting
    v, k = space.max_vertices, len(space.ops)
    p_edge, p_op = documented_rates(preset, v, k)
    others = {documented_rates(o, v, k)[0] for o in ("nb101", "bananas", "naslib")} - {p_edge}
    pool = space.sample(2000, random_state=5)
    full = pool[np.flatnonzero(pool.num_vertices == v)[:PARENTS]]
    assert len(full) == PARENTS
    interior = np.arange(1, v - 1)
    for i in range(PARENTS):
        parents = full[np.full(CHILDREN, i)]
        children = space.mutate(parents, random_state=1000 + i, preset=preset)  # type: ignore[arg-type]
        kept = np.flatnonzero(children.num_vertices == v)
        n = len(kept)
        assert n > CHILDREN // 10, f"too few {v}-vertex children ({n}) to measure the rates"
        adjacency = np.asarray(children.adjacency)[kept][:, :v, :v]
        parent_mask = int(matrices.mask_of(np.asarray(full.adjacency)[i : i + 1, :v, :v])[0])
        child_masks = matrices.mask_of(adjacency)
        assert np.isin(child_masks, matrices.valid).all()  # the enumeration of A is complete
        flipped = ((child_masks[:, None] ^ np.uint32(parent_mask)) >> np.arange(len(matrices.pairs), dtype=np.uint32)) & 1
        observed = flipped.mean(axis=0)

        expected = matrices.expected_flips(parent_mask, p_edge)
        z = z_scores(observed, expected, n)
        assert np.abs(z).max() < TOLERANCE, (preset, i, np.round(observed, 4), np.round(expected, 4))
        # the same flips reject the edge rate of every other preset
        total = flipped.sum(axis=1)
        for other in others:
            alt = matrices.expected_flips(parent_mask, other).sum()
            assert abs(total.mean() - alt) / (total.std() / np.sqrt(n)) > 10, (preset, other)

        ops_parent = np.asarray(full.ops)[i, interior]
        ops_child = np.asarray(children.ops)[kept][:, interior]
        changed = ops_child != ops_parent
        z_op = z_scores(changed.mean(axis=0), np.full(len(interior), p_op), n)
        assert np.abs(z_op).max() < TOLERANCE, (preset, i, changed.mean(axis=0), p_op)
        # a changed op becomes each of the other k - 1 ops equally often
        for j, old in enumerate(ops_parent):
            counts = np.bincount(ops_child[changed[:, j], j], minlength=k)
            assert counts[old] == 0
            others_share = counts[np.arange(k) != old] / counts.sum()
            assert np.abs(z_scores(others_share, np.full(k - 1, 1 / (k - 1)), counts.sum())).max() < TOLERANCE
        # and the measured op rate rejects the op rate of every other preset
        for other_op in {documented_rates(o, v, k)[1] for o in ("nb101", "bananas", "naslib")} - {p_op}:
            assert abs(z_scores(changed.mean(), other_op, changed.size)) > 10, (preset, other_op)
