"""The look of every figure: palette, size, rendering to a data URI, axes style.

Every figure builds a :class:`matplotlib.figure.Figure` directly (no pyplot, so no global
state and no GUI backend is ever touched), renders it to PNG in memory and returns a
``data:image/png;base64,…`` URI that the template inlines. Colours come from the Okabe–Ito
palette, which stays distinguishable for the common forms of colour blindness. Used by the
report's plots (:mod:`~insightome.report.plots`, :mod:`~insightome.report.estimate_plots`,
the audit's and discovery's) and by the ADMET reports.
"""

from __future__ import annotations

import base64
import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from insightome.number_format import fmt_p

#: Okabe & Ito (2008) colour-blind-safe palette (black omitted: used for reference lines).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#999999",  # grey
)
BLUE, VERMILLION, GREEN, ORANGE, SKY, PURPLE, _YELLOW, GREY = OKABE_ITO
REFERENCE = "#444444"
LINESTYLES: tuple[str, ...] = ("-", "--", "-.", ":")

FIGSIZE: tuple[float, float] = (5.0, 4.0)
DPI = 110


def new_figure(size: tuple[float, float] = FIGSIZE) -> Figure:
    return Figure(figsize=size, dpi=DPI, layout="constrained")


def to_data_uri(fig: Figure) -> str:
    """Render ``fig`` to PNG and return it as a base64 data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def style_axes(ax: Axes) -> None:
    """Light grid behind the data, no top/right spines."""
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def p_phrase(p: float) -> str:
    """``'= 0.012'`` or ``'< 0.001'``, to follow a ``p`` in a title.

    A NaN p-value prints as ``'= nan'`` (as the figures always printed it).
    """
    text = fmt_p(p, missing="nan")
    return text if text.startswith("<") else f"= {text}"


def short_label(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters in the middle, so distinct endings survive."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2 + (width - 1) % 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
