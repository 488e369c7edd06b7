"""The plug-in API of the search: the README's own candidate set and searcher, the public search
state, candidate sets given as masks over the universe (``FullSpace`` inside ``Combined``), the
registry and its collisions, the one configuration schema of journals and study files, and the
common base of nasfast's exceptions."""

from __future__ import annotations

import json
import pickle
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nasfast
import reference as ref
from nasfast import CellBatch, SearchSpace
from nasfast.experiment import Arm, Experiment
from nasfast.search import (
    BenchmarkEvaluator,
    CandidateSet,
    CandidateStrategy,
    Combined,
    EvaluationError,
    Evolution,
    ForestRegressor,
    FullSpace,
    JournalCorruptError,
    JournalMismatchError,
    LocalSearch,
    Neighbourhood,
    PredictorSearch,
    RandomSearch,
    RandomSubset,
    RegularizedEvolution,
    Searcher,
    SearchState,
    Union,
    register_candidates,
    register_searcher,
    registry,
)
from nasfast.search.registry import candidates_config, candidates_from_config, searcher_class, searcher_config
from test_experiment import load_toy
from test_search import Table

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test are forgotten after it."""
    monkeypatch.setattr(registry, "_SEARCHERS", dict(registry._SEARCHERS))
    monkeypatch.setattr(registry, "_CANDIDATE_SETS", dict(registry._CANDIDATE_SETS))


def _forest() -> ForestRegressor:
    return ForestRegressor(n_estimators=10, min_samples_leaf=2)


def _tells(path: Path) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["type"] == "tell"]


# ---------------------------------------------------------------------------------- the README


def architecture_blocks() -> list[str]:
    """The ``python`` code blocks of the README's Architecture section, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Architecture")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.DOTALL)


def test_the_readme_plugin_examples_run_and_do_what_they_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_registry: None, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = architecture_blocks()
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {"__name__": "readme_architecture"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), ns)
    search, again, mine = ns["search"], ns["again"], ns["mine"]
    # the candidate set: mutants of the 5 best plus 500 random cells, recorded by name and rebuilt
    assert search.n_evaluated_ == 30 and again.n_evaluated_ == 40
    assert again.history_.cells[:30] == search.history_.cells
    assert type(again.candidates) is ns["MutantsAndRandom"]
    header = json.loads((tmp_path / "mutants.jsonl").read_text().splitlines()[0])
    assert header["searcher"]["candidates"] == {"type": "MutantsAndRandom", "top_k": 5, "n_children": 200, "n_random": 500}
    sizes = search.history_.candidate_set_size
    assert np.all(sizes[:10] == 0) and np.all((sizes[10:] > 500) & (sizes[10:] <= 700))
    # the searcher: its journal holds the 30 results of the run, then 5 more from resume()
    tells = _tells(tmp_path / "mine.jsonl")
    assert len(tells) == 35 and mine.n_evaluated_ == 30
    assert [int(t["fingerprint"], 16) for t in tells[:30]] == mine.history_.cells.fingerprints().tolist()
    assert len({t["fingerprint"] for t in tells}) == 35
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith(" 35") and "MutantsAndRandom(top_k=5, n_children=200, n_random=500)" in out[-2]


# ---------------------------------------------------------------------------------- the public state


class _Spy(CandidateSet):
    """Checks what the state shows against the history, each round, and returns no cells."""

    def __init__(self) -> None:
        self.rounds = 0

    def candidates(self, state: SearchState) -> CellBatch:
        h = state.history
        told = h.cells.fingerprints()
        universe = state.universe
        assert universe is not None
        mask = state.taken_mask()
        with pytest.raises(ValueError, match="read-only"):
            mask[0] = True
        assert state.n_taken == state.n_asked == int(mask.sum()) >= state.n_told == len(h)
        assert state.is_taken(told).all() and mask[universe.positions(told)].all()
        many = universe.fingerprints[:200]  # the array path of is_taken, and the set path
        np.testing.assert_array_equal(state.is_taken(many), mask[:200])
        np.testing.assert_array_equal(state.is_taken(many[:10]), mask[:10])
        # the best cells: distinct, best first, earlier first on ties (failures left out)
        order = sorted(range(len(h)), key=lambda i: (-h.values[i], i))
        expected = [ref.iso_key(*c) for c in ref.batch_cells(h.cells[np.array(order[:3], dtype=np.int64)])] if order else []
        assert [ref.iso_key(*c) for c in ref.batch_cells(state.top_cells(3))] == expected
        self.rounds += 1
        return state.empty()


def test_the_state_a_candidate_set_sees_is_the_search_so_far(space5: SearchSpace, table: Table) -> None:
    spy = _Spy()
    s = PredictorSearch(space5, _forest(), candidates=spy, n_initial=3, batch_size=2, random_state=0)
    s.run(BenchmarkEvaluator(table), 12)
    assert spy.rounds >= 5
    assert np.all(s.history_.candidate_set_size == 0)  # no candidates: random cells every round
    assert repr(s.state_).startswith("SearchState(") and s.state_.n_told == 12


def test_tell_records_the_given_wall_time(space5: SearchSpace, table: Table) -> None:
    s = RandomSearch(space5, random_state=0)
    cells = s.ask(2)
    s.tell(cells, table.query(cells), wall_time=123.5)
    later = s.ask(1)
    s.tell(later, table.query(later))
    assert s.history_.wall_time[:2].tolist() == [123.5, 123.5] and 123.5 <= s.history_.wall_time[2] < 200
    with pytest.raises(ValueError, match="wall_time = -1"):
        s.tell(later, [0.5], wall_time=-1)


# ---------------------------------------------------------------------------------- candidates as masks


@pytest.mark.parametrize("universe", [False, True])
def test_full_space_inside_combined_is_scored_as_full_space(universe: bool, space5: SearchSpace, table: Table) -> None:
    """A neighbourhood adds nothing to every cell of the universe and draws no random number: the
    union gives exactly the history of FullSpace alone, in either order, with a batch."""
    kw: dict[str, Any] = dict(n_initial=5, batch_size=2, random_state=4, universe=table.cells[100:400] if universe else None)
    ev = BenchmarkEvaluator(table)
    alone = PredictorSearch(space5, _forest(), candidates=FullSpace(), **kw).run(ev, 25).history_
    for cands in (Combined(Neighbourhood(top_k=3), FullSpace()), Union(FullSpace(), Neighbourhood(top_k=2))):
        assert PredictorSearch(space5, _forest(), candidates=cands, **kw).run(ev, 25).history_.equals(alone)


def test_a_union_with_full_space_scores_every_free_cell(space5: SearchSpace, table: Table) -> None:
    universe = table.cells[np.arange(0, 600, 2)]
    s = PredictorSearch(space5, _forest(), candidates=Combined(Evolution(30, 3), FullSpace()), n_initial=5, universe=universe,
                        random_state=1)
    h = s.run(BenchmarkEvaluator(table), 20).history_
    np.testing.assert_array_equal(h.candidate_set_size[5:], 300 - np.arange(5, 20))
    assert set(table.keys(h.cells)) <= set(table.keys(universe))


class _EvenPositions(CandidateSet):
    """The cells at even positions of the universe, as a mask."""

    def candidates(self, state: SearchState) -> Any:
        assert state.universe is not None
        mask = np.zeros(len(state.universe), dtype=bool)
        mask[::2] = True
        return mask


class _BadMask(CandidateSet):
    def candidates(self, state: SearchState) -> Any:
        return np.ones(3, dtype=bool)


def test_a_candidate_set_of_your_own_may_give_a_mask(space5: SearchSpace, table: Table) -> None:
    s = PredictorSearch(space5, _forest(), acquisition="greedy", candidates=_EvenPositions(), n_initial=5, random_state=2)
    h = s.run(BenchmarkEvaluator(table), 20).history_
    # positions in the enumeration, found by the reference isomorphism keys
    position = {k: i for i, k in enumerate(table.keys(space5.enumerate()))}
    keys = table.keys(h.cells)
    even = [k for k in position if position[k] % 2 == 0]
    for i in range(5, 20):
        assert position[keys[i]] % 2 == 0
        assert h.candidate_set_size[i] == len(set(even) - set(keys[:i]))
    with pytest.raises(ValueError, match=r"_BadMask\(\) returned a mask of shape \(3,\) for a universe of 779 cells"):
        PredictorSearch(space5, _forest(), candidates=_BadMask(), n_initial=2, random_state=0).run(BenchmarkEvaluator(table), 4)


class _Returns(CandidateSet):
    def __init__(self, value: Any) -> None:
        self.value = value

    def candidates(self, state: SearchState) -> Any:
        return self.value

    def get_config(self) -> dict[str, Any]:
        return {}


class _Again(Searcher):
    """Proposes its first cell again and again (a broken plug-in)."""

    def propose(self, state: SearchState, n: int) -> tuple[CellBatch, int]:
        return (state.history.cells[:1] if state.n_told else state.random_new(1)), 0


def test_a_broken_plugin_is_told_what_it_did_wrong(space5: SearchSpace, table: Table, big_space: SearchSpace) -> None:
    ev = BenchmarkEvaluator(table)
    cases: list[tuple[Any, type, str]] = [
        ([1, 2], TypeError, "_Returns\\(\\) returned list: expected a CellBatch or a boolean mask over the universe"),
        (np.ones(779), TypeError, "returned ndarray: expected"),
        (SearchSpace(4, 5, ["a"]).enumerate(), ValueError, "returned cells of SearchSpace\\(max_vertices=4"),
    ]
    for value, error, message in cases:
        with pytest.raises(error, match=message):
            PredictorSearch(space5, _forest(), candidates=_Returns(value), n_initial=2, random_state=0).run(ev, 4)
        with pytest.raises(error, match=message):  # inside a union too
            PredictorSearch(space5, _forest(), candidates=Combined(Neighbourhood(), _Returns(value)), n_initial=2,
                            random_state=0).run(ev, 4)
    with pytest.raises(ValueError, match="returned a mask, but SearchSpace\\(max_vertices=12.*has no universe"):
        PredictorSearch(big_space, _forest(), candidates=_Returns(np.ones(5, dtype=bool)), n_initial=2, random_state=0).run(
            lambda cells: cells.encode("adjacency").sum(axis=1), 4)
    s = _Again(space5, random_state=0)
    s.tell(s.ask(1), [0.5])
    with pytest.raises(ValueError, match="_Again.propose returned a cell twice, or a cell evaluated or pending"):
        s.ask(1)


# ---------------------------------------------------------------------------------- the registry


def test_a_class_of_yours_named_like_a_builtin_never_collides(
    tmp_path: Path, space5: SearchSpace, table: Table, isolated_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nasfast.search as search

    class PredictorSearch(search.PredictorSearch):  # the bare name of the built-in class
        """A variant of yours."""

    def make(cls: type) -> Any:
        return cls(space5, _forest(), candidates=Neighbourhood(top_k=3), n_initial=4, random_state=2)

    ev = BenchmarkEvaluator(table)
    with pytest.raises(ValueError, match="'PredictorSearch' is already registered for nasfast.search.predictor.PredictorSearch"):
        register_searcher(PredictorSearch)
    # not registered: it runs, but no journal records it (resume could not find it again)
    make(PredictorSearch).run(ev, 5)
    with pytest.raises(TypeError, match="is not a registered searcher.*register_searcher"):
        make(PredictorSearch).run(ev, 5, journal=tmp_path / "none.jsonl")
    assert not (tmp_path / "none.jsonl").exists()
    register_searcher(PredictorSearch, name="mylab.PredictorSearch")
    mine, builtin = tmp_path / "mine.jsonl", tmp_path / "builtin.jsonl"
    make(PredictorSearch).run(ev, 5, journal=mine)
    make(search.PredictorSearch).run(ev, 5, journal=builtin)
    predictor = _forest()
    resumed = Searcher.resume(mine, ev, 8, predictor=predictor)
    assert type(resumed) is PredictorSearch and resumed.history_.equals(make(PredictorSearch).run(ev, 8).history_)
    assert type(search.PredictorSearch.resume(mine, ev, 8, predictor=predictor)) is PredictorSearch  # it is one
    assert type(Searcher.resume(builtin, ev, 8, predictor=predictor)) is search.PredictorSearch
    with pytest.raises(JournalMismatchError, match="not by PredictorSearch \\(nasfast.search.predictor.PredictorSearch is not a "):
        PredictorSearch.resume(builtin, ev, 8, predictor=predictor)
    # a process that has not registered the class cannot resume its journal, and says why
    monkeypatch.delitem(registry._SEARCHERS, "mylab.PredictorSearch")
    with pytest.raises(JournalMismatchError, match="searcher 'mylab.PredictorSearch', which is not registered here"):
        Searcher.resume(mine, ev, 9, predictor=predictor)


def test_registration_rules(isolated_registry: None) -> None:
    class Mine(CandidateSet):
        def candidates(self, state: SearchState) -> CellBatch:
            return state.empty()

    register_candidates(Mine)
    assert registry.candidates_class("Mine") is Mine and registry.registered_name(Mine) == "Mine"
    with pytest.raises(ValueError, match="already registered as the candidate set 'Mine'; a class has one name"):
        register_candidates(Mine, name="Other")
    with pytest.raises(ValueError, match="'Mine' is already registered for the candidate set"):
        register_searcher(type("Mine", (Searcher,), {}))
    with pytest.raises(ValueError, match="'Union' is reserved"):
        register_candidates(type("Union", (CandidateSet,), {}))
    with pytest.raises(ValueError, match="name 'my set' is not allowed"):
        register_candidates(type("X", (CandidateSet,), {}), name="my set")
    with pytest.raises(TypeError, match="only a subclass of Searcher can be registered"):
        register_searcher(Mine)  # type: ignore[type-var]

    class Mine(CandidateSet):  # type: ignore[no-redef]  # the same definition again (a notebook cell run twice)
        def candidates(self, state: SearchState) -> CellBatch:
            return state.empty()

    register_candidates(Mine)
    assert registry.candidates_class("Mine") is Mine
    assert Union is Combined and CandidateStrategy is CandidateSet and registry.candidates_class("Union") is Combined


# ---------------------------------------------------------------------------------- one configuration schema


def test_configurations_round_trip_through_json(space5: SearchSpace) -> None:
    sets = [FullSpace(), RandomSubset(50, True), Neighbourhood(2, 3), Evolution(20, 4, "naslib"),
            Combined(Neighbourhood(), Union(FullSpace(), RandomSubset(7)))]
    for c in sets:
        cfg = json.loads(json.dumps(candidates_config(c)))
        back = candidates_from_config(cfg)
        assert type(back) is type(c) and candidates_config(back) == cfg
    assert candidates_config(sets[-1]) == {"type": "Combined", "sets": [
        {"type": "Neighbourhood", "radius": 1, "top_k": 10},
        {"type": "Combined", "sets": [{"type": "FullSpace"}, {"type": "RandomSubset", "size": 7, "refresh": False}]}]}
    searchers = [RandomSearch(space5, method="rejection", batch_size=3), RegularizedEvolution(space5, 20, 4, "bananas", False),
                 LocalSearch(space5, batch_size=2), PredictorSearch(space5, acquisition="ucb", candidates=sets[-1], n_initial=7,
                                                                    kappa=np.float64(2.0), n_ensemble=np.int64(3))]
    for s in searchers:
        cfg = json.loads(json.dumps(searcher_config(s)))
        name = cfg.pop("type")
        back = searcher_class(name).from_config(space5, cfg, random_state=3)
        assert type(back) is type(s) and searcher_config(back) == {"type": name, **cfg}
    # the study reads the same schema: a journal's searcher configuration is an arm (but for the
    # predictor, which a journal only describes)
    cfg = searcher_config(searchers[-1])
    arm = Arm("from-a-journal", cfg.pop("type"), {k: v for k, v in cfg.items() if k != "predictor"})
    assert arm.candidates_type == "Combined"
    from nasfast.experiment.config import _FIXED

    assert _FIXED == registry.CONTEXT_ARGUMENTS  # what a study sets is the context of a run


def test_a_bad_configuration_is_refused_naming_what_is_wrong(tmp_path: Path, space5: SearchSpace, table: Table) -> None:
    cases = [
        ({"type": "Neighbourhood", "top_kk": 3}, "candidates Neighbourhood: unknown key \\['top_kk'\\] for Neighbourhood"),
        ({"type": "Neighbourhood", "radius": "1"}, "candidates Neighbourhood: radius = '1' is not an integer"),
        ({"type": "Neighborhood"}, "candidates: unknown candidate set 'Neighborhood', expected one of"),
        ({"radius": 1}, "candidates must be a table with a 'type' key"),
        ({"type": "Union", "sets": [{"type": "FullSpace"}]}, "Combined needs at least two candidate sets, got 1"),
    ]
    for cfg, message in cases:
        with pytest.raises(ValueError, match=message):
            candidates_from_config(cfg)
    with pytest.raises(ValueError, match="unknown key \\['acquisiton'\\] for PredictorSearch"):
        PredictorSearch.from_config(space5, {"acquisiton": "ei"})
    with pytest.raises(ValueError, match="unknown searcher 'RandomSerch'"):
        searcher_class("RandomSerch")
    # a journal whose header holds a typo (checksums made good) is refused before anything runs
    journal = tmp_path / "j.jsonl"
    RandomSearch(space5, random_state=1).run(BenchmarkEvaluator(table), 3, journal=journal)
    records = [{k: v for k, v in json.loads(line).items() if k != "crc"} for line in journal.read_text().splitlines()]
    records[0]["searcher"]["methd"] = records[0]["searcher"].pop("method")
    text, crc = [], 0
    for rec in records:
        body = json.dumps(rec, separators=(",", ":"))[:-1]
        crc = zlib.crc32(body.encode(), crc)
        text.append(f'{body},"crc":"{crc:08x}"}}\n')
    journal.write_text("".join(text))
    with pytest.raises(ValueError, match="unknown key \\['methd'\\] for RandomSearch"):
        Searcher.resume(journal, BenchmarkEvaluator(table), 5)


class _TopHalf(CandidateSet):
    """Every new cell among the first ``fraction`` of the universe (module level: the study's
    worker processes import it by name)."""

    def __init__(self, fraction: float = 0.5) -> None:
        self.fraction = fraction

    def candidates(self, state: SearchState) -> Any:
        assert state.universe is not None
        mask = np.zeros(len(state.universe), dtype=bool)
        mask[: int(self.fraction * len(state.universe))] = True
        return mask


STUDY = """
[experiment]
benchmarks = ["toy"]
seeds = 2
budget = 12
targets = ["optimum", "top-5%"]
headline_target = "top-5%"
n_boot = 50

[[arm]]
name = "mine"
searcher = "PredictorSearch"
n_initial = 4
predictor = { type = "ForestRegressor", n_estimators = 10 }
candidates = { type = "Combined", sets = [{ type = "TopHalf", fraction = 0.25 }, { type = "Neighbourhood", top_k = 2 }] }
"""


def test_a_study_runs_a_registered_candidate_set_in_its_worker_processes(tmp_path: Path, isolated_registry: None) -> None:
    study = tmp_path / "study.toml"
    study.write_text(STUDY.replace('fraction = 0.25', 'fractoin = 0.25'))
    with pytest.raises(ValueError, match="unknown candidate set 'TopHalf'"):  # not registered yet
        Experiment.from_toml(study, out=tmp_path / "a", progress=False, load_benchmark=load_toy)
    register_candidates(_TopHalf, name="TopHalf")
    with pytest.raises(ValueError, match="arm 'mine', candidates Combined: .*unknown key \\['fractoin'\\] for _TopHalf"):
        Experiment.from_toml(study, out=tmp_path / "a", progress=False, load_benchmark=load_toy)
    assert not (tmp_path / "a").exists()
    study.write_text(STUDY)
    records = []
    for jobs in (1, 2):
        exp = Experiment.from_toml(study, out=tmp_path / f"j{jobs}", jobs=jobs, progress=False, load_benchmark=load_toy)
        records.append([r["fingerprints"] for r in exp.run(write=False).records])
    assert records[0] == records[1] and len(records[0]) == 2 and all(len(f) == 12 for f in records[0])


# ---------------------------------------------------------------------------------- errors


def test_every_error_class_is_a_nasfast_error_and_its_builtin(space5: SearchSpace, table: Table) -> None:
    from nasfast.benchmarks import MissingCellError, TableFormatError, TabularBenchmark, TFRecordError

    expected = {
        nasfast.InvalidCellError: ValueError, nasfast.SpaceTooLargeError: ValueError, TFRecordError: ValueError,
        TableFormatError: ValueError, MissingCellError: KeyError, JournalMismatchError: ValueError,
        JournalCorruptError: JournalMismatchError, EvaluationError: RuntimeError,
    }
    for cls, builtin in expected.items():
        assert issubclass(cls, nasfast.NasfastError) and issubclass(cls, builtin), cls
        assert pickle.loads(pickle.dumps(cls("message"))).args == ("message",)  # crosses process boundaries
    assert nasfast.NasfastError.__mro__[1:] == (Exception, BaseException, object)
    with pytest.raises(nasfast.NasfastError, match="3 ops were given"):
        nasfast.CellSpec([[0, 1], [0, 0]], ["input", "a", "output"])
    with pytest.raises(nasfast.NasfastError, match="enumerate\\(\\) is refused"):
        SearchSpace(12, 16, ["a", "b", "c", "d", "e"]).enumerate()

    def broken(cells: CellBatch) -> Any:
        raise RuntimeError("no GPU")

    with pytest.raises(nasfast.NasfastError, match="no GPU"):
        RandomSearch(space5, random_state=0).run(broken, 5, max_consecutive_failures=2)
    cells = space5.enumerate()
    bench = TabularBenchmark("half", space5, cells[:100], {"acc": np.arange(100.0)}, default_metric="acc")
    with pytest.raises(nasfast.NasfastError, match="not in"):
        bench.query(cells[100:101])
