"""Blocks of a large matrix, so that temporaries are the size of a block, not the matrix.

Used where a whole-matrix operation would allocate full-size copies (scaling, F-tests,
correlations, ranks, hashing): the work is done on consecutive slices of rows or columns
holding about ``cells`` values each. Reading a backed file in blocks of rows is
:func:`insightome.io.streaming.block_rows`.
"""

from __future__ import annotations

BLOCK_CELLS = 4_000_000  # values per block (32 MB as float64)


def blocks(length: int, across: int, cells: int = BLOCK_CELLS) -> list[slice]:
    """Consecutive slices of ``range(length)``, each covering about ``cells`` values of a
    matrix whose other dimension is ``across`` (at least one item per slice)."""
    step = max(1, cells // max(across, 1))
    return [slice(start, min(start + step, length)) for start in range(0, length, step)]
