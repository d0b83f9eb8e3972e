"""Bar charts drawn on the server as SVG geometry, so no charting script is fetched or shipped."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

# Colour per series key; readable on white and distinct for common colour blindness.
PALETTE = {
    "active": "#2a7a3b", "pending": "#b8860b", "suspended": "#c2571a", "removed": "#6b6b6b",
    "traceable": "#2a7a3b", "not_traceable": "#b3261e",
    "on_time": "#2a7a3b", "late": "#b3261e",
    "submitted": "#b8860b", "published": "#2a7a3b", "rejected": "#6b6b6b", "revoked": "#444",
    "within_limit": "#2a7a3b", "over_limit": "#b3261e", "not_connected": "#9aa5b1",
    "sms": "#3b6ea8",
}
BAR_HEIGHT = 22
GAP = 10
LABEL_WIDTH = 150
PLOT_WIDTH = 360


class Segment(msgspec.Struct, frozen=True):
    key: str
    value: int
    x: float
    width: float
    colour: str


class Bar(msgspec.Struct, frozen=True):
    label: str
    total: int
    y: float
    segments: list[Segment]


class Chart(msgspec.Struct, frozen=True):
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]
    keys: list[str]
    colours: dict[str, str]


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[tuple[str, int]]]], scale_to: int | None = None
) -> Chart:
    """One horizontal bar per row, split into its (key, value) segments, on a shared scale."""
    largest = scale_to or max((sum(v for _, v in parts) for _, parts in rows), default=0) or 1
    bars = []
    keys: list[str] = []
    for i, (label, parts) in enumerate(rows):
        x = float(LABEL_WIDTH)
        segments = []
        for key, value in parts:
            if key not in keys:
                keys.append(key)
            width = PLOT_WIDTH * value / largest
            if value:
                segments.append(Segment(key, value, x, width, PALETTE.get(key, "#345")))
            x += width
        bars.append(Bar(label, sum(v for _, v in parts), i * (BAR_HEIGHT + GAP), segments))
    height = max(1, len(rows)) * (BAR_HEIGHT + GAP)
    colours = {key: PALETTE.get(key, "#345") for key in keys}
    return Chart(LABEL_WIDTH + PLOT_WIDTH + 60, height, LABEL_WIDTH, BAR_HEIGHT, bars, keys,
                 colours)
