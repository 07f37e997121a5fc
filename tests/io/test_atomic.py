"""Output folders appear whole or not at all (insightome.io.atomic)."""

from __future__ import annotations

import pytest

from insightome.io.atomic import replacing_directory


def test_a_new_directory_appears_only_when_complete(tmp_path):
    final = tmp_path / "out"
    with replacing_directory(final) as tmp:
        (tmp / "a.txt").write_text("new")
        assert not final.exists()  # nothing visible while it is being written
    assert (final / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no leftovers


def test_a_failure_keeps_the_previous_content(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), replacing_directory(final) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("crash while writing")
    assert (final / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_replacement_swaps_the_whole_directory(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "stale.txt").write_text("old")
    with replacing_directory(final) as tmp:
        (tmp / "a.txt").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["a.txt"]
