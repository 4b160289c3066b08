"""Property-based tests: the reference grammar, state paths, JSON of any value, corrupt blobs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgtt import serde
from lgtt.errors import LgttError
from lgtt.jsonable import to_jsonable
from lgtt.paths import format_path, get_path, parse_path
from lgtt.refs import select, split_ref
from tests.conftest import RunCli
from tests.scenarios import build_all

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# --- references ------------------------------------------------------------------------

ids_strategy = st.lists(st.uuids(version=4).map(str), min_size=1, max_size=30, unique=True).map(
    sorted
)


@FAST
@given(ids=ids_strategy, data=st.data())
def test_integer_selectors_pick_that_index_or_say_out_of_range(ids: list[str], data: Any) -> None:
    pairs = [(i, None) for i in ids]
    n = len(ids)
    k = data.draw(st.integers(min_value=-3 * n, max_value=3 * n))
    if -n <= k < n:
        assert select(pairs, str(k), label="t") == k % n
    else:
        with pytest.raises(LgttError, match="out of range"):
            select(pairs, str(k), label="t")


@FAST
@given(ids=ids_strategy, data=st.data())
def test_every_unique_prefix_resolves_to_its_checkpoint(ids: list[str], data: Any) -> None:
    pairs = [(i, None) for i in ids]
    target = data.draw(st.sampled_from(range(len(ids))))
    length = data.draw(st.integers(min_value=1, max_value=36))
    prefix = ids[target][:length]
    matching = [i for i in ids if i.startswith(prefix)]
    if prefix.lstrip("+-").isdigit():
        return  # an all-digit prefix is an index by definition
    if len(matching) == 1:
        assert select(pairs, prefix, label="t") == target
    else:
        with pytest.raises(LgttError, match="ambiguous"):
            select(pairs, prefix, label="t")


@FAST
@given(text=st.text(max_size=40))
def test_any_reference_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        thread, selector = split_ref(text)
    except LgttError:
        return
    assert thread and (selector is None or selector)
    assert text == thread if selector is None else text == f"{thread}@{selector}"


# --- state paths ---------------------------------------------------------------------------

part = st.one_of(
    st.integers(min_value=-50, max_value=50),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    st.text(min_size=1, max_size=10),
)


@FAST
@given(parts=st.lists(part, min_size=1, max_size=6).map(tuple))
def test_paths_round_trip(parts: tuple[Any, ...]) -> None:
    assert parse_path(format_path(parts)) == parts


@FAST
@given(text=st.text(max_size=30))
def test_any_path_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        parts = parse_path(text)
    except LgttError:
        return
    assert parts


@FAST
@given(
    value=st.recursive(
        st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
        max_leaves=10,
    ),
    data=st.data(),
)
def test_get_path_follows_what_exists(value: Any, data: Any) -> None:
    parts: list[Any] = []
    cur = value
    while isinstance(cur, (list, dict)) and cur and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(range(len(cur)) if isinstance(cur, list) else sorted(cur)))
        parts.append(key)
        cur = cur[key]
    if parts:
        assert get_path(value, tuple(parts)) == cur


# --- any value becomes valid JSON ---------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: float
    label: str


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=20),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False, places=3),
    st.builds(Point, st.floats(), st.text(max_size=5)),
    st.builds(lambda n, v: serde.Opaque(n, v), st.text(max_size=8), st.integers()),
    st.builds(
        lambda d: serde.Record("m.Model", d),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    ),
    st.timedeltas(),
)
values = st.recursive(
    scalars,
    lambda c: st.one_of(
        st.lists(c, max_size=4),
        st.tuples(c, c),
        st.frozensets(st.integers() | st.text(max_size=3), max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=5), st.integers(), st.booleans()), c, max_size=4
        ),
    ),
    max_leaves=25,
)


@FAST
@given(value=values)
def test_every_value_serializes_to_valid_json(value: Any) -> None:
    doc = json.dumps(to_jsonable(value), allow_nan=False)
    json.loads(doc)


def test_value_rules() -> None:
    assert to_jsonable(b"\x00\x01") == {"$base64": "AAE="}
    assert to_jsonable({3, 1, 2}) == [1, 2, 3]
    assert to_jsonable(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)) == "2026-01-02T00:00:00+00:00"
    assert to_jsonable(Point(1.5, "a")) == {"x": 1.5, "label": "a"}
    assert to_jsonable(decimal.Decimal("1.5")) == {"$type": "decimal.Decimal", "value": "1.5"}
    u = uuid.uuid4()
    assert to_jsonable(u) == str(u)
    assert to_jsonable(float("nan")) == {"$type": "float", "value": "nan"}


# --- corrupt blobs: no crash, no traceback ------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "all.sqlite"
    _, saver = build_all(path)
    saver.conn.close()
    return path


def _blobs(path: Path) -> list[bytes]:
    conn = sqlite3.connect(path)
    rows = [r[0] for r in conn.execute("SELECT checkpoint FROM checkpoints")]
    rows += [r[0] for r in conn.execute("SELECT value FROM writes WHERE type = 'msgpack'")]
    conn.close()
    return rows


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_corrupted_blobs_decode_or_raise_decode_error(pristine: Path, data: Any) -> None:
    blobs = _blobs(pristine)
    blob = bytearray(data.draw(st.sampled_from(blobs)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        i = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
        blob[i] = data.draw(st.integers(min_value=0, max_value=255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(min_value=0, max_value=len(blob)))]
    for lazy in (False, True):
        try:
            decoded = serde.loads("msgpack", bytes(blob), lazy=lazy)
        except serde.DecodeError:
            continue
        json.dumps(to_jsonable(serde.materialize(decoded)), allow_nan=False)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_commands_survive_random_corruption(
    cli: RunCli, pristine: Path, tmp_path: Path, data: Any
) -> None:
    with sqlite3.connect(pristine) as src:
        rows = src.execute("SELECT rowid, checkpoint FROM checkpoints ORDER BY rowid").fetchall()
    db = tmp_path / f"c-{uuid.uuid4().hex}.sqlite"  # a fresh file for every example
    shutil.copy(pristine, db)
    conn = sqlite3.connect(db)
    for rowid, blob in data.draw(
        st.lists(st.sampled_from(rows), min_size=1, max_size=4, unique=True)
    ):
        b = bytearray(blob)
        i = data.draw(st.integers(min_value=0, max_value=len(b) - 1))
        b[i] ^= data.draw(st.integers(min_value=1, max_value=255))
        conn.execute("UPDATE checkpoints SET checkpoint = ? WHERE rowid = ?", (bytes(b), rowid))
    conn.commit()
    conn.close()
    for args in (
        ["threads"],
        ["timeline", "count"],
        ["timeline", "fanout", "--json"],
        ["show", "approval"],
    ):
        r = cli(*args, "--db", db)
        assert r.exit_code in (0, 2), (args, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
        if r.exit_code == 2:
            assert r.stderr.count("\n") == 1


def test_extension_codes_match_langgraph() -> None:
    """lgtt copies LangGraph's msgpack extension codes (to start without LangChain)."""
    from langgraph.checkpoint.serde import jsonplus

    codes = {n: getattr(jsonplus, n) for n in dir(jsonplus) if n.startswith("EXT_")}
    assert codes and all(getattr(serde, n) == v for n, v in codes.items())


# --- --set KEY=JSON -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=20,
)
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


@FAST
@given(key=keys, value=json_values)
def test_set_round_trips_any_json_value(key: str, value: Any) -> None:
    from lgtt.actions.edits import parse_set

    assert parse_set(f"{key}={json.dumps(value)}") == (key, value)


@FAST
@given(text=st.text(max_size=60))
def test_any_set_text_parses_or_fails_with_one_line(text: str) -> None:
    from lgtt.actions.edits import parse_set

    try:
        key, _value = parse_set(text)
    except LgttError as exc:
        assert "\n" not in str(exc)
        return
    assert key and key == text.partition("=")[0].strip()
