"""Consumers' row identifiers: stable, per department, reversible only by the platform."""

from __future__ import annotations

from govshare.exchange.keys import row_key as store_key
from govshare.sharing import rowids


def test_a_row_id_is_stable_per_department_and_turns_back_into_the_row() -> None:
    key = store_key({"id_number": "130102198503177718"}, ["id_number"])
    mine, theirs = rowids.row_id(7, key), rowids.row_id(8, key)
    assert mine == rowids.row_id(7, key) and mine != theirs and key not in (mine, theirs)
    assert rowids.row_key(7, mine) == key
    assert rowids.row_key(8, mine) != key  # another department's identifier opens to nothing useful
    for bad in ("", "xyz", key[:63], "G" * 64):
        assert rowids.row_key(7, bad) is None


def test_many_row_ids_at_once_are_the_same_as_one_by_one() -> None:
    keys = [store_key({"id_number": f"13010219850317{n:04d}"}, ["id_number"]) for n in range(5)]
    assert rowids.RowIds(7).many(keys) == [rowids.row_id(7, k) for k in keys]
    assert rowids.RowIds(7, export_id=3).many(keys) == [rowids.row_id(7, k, export_id=3) for k in keys]
    assert rowids.RowIds(7).many([]) == []
