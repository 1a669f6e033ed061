"""The embedding window: Chunk tells the state machine when the document's chunks may be embedded,
so every document of a window reaches the scale-to-zero endpoint together."""
from __future__ import annotations

import calendar
import time

import pytest

from pipeline_handlers import embed_not_before


def at(s: str) -> float:
    return float(calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")))


@pytest.mark.parametrize("now, window, expected", [
    ("2026-11-22T09:15:00Z", 720, "2026-11-22T12:00:00Z"),  # next of the twice-daily windows
    ("2026-11-22T12:00:00Z", 720, "2026-11-23T00:00:00Z"),  # exactly at a boundary: the next one, never the past
    ("2026-11-22T23:59:59Z", 1440, "2026-11-23T00:00:00Z"),
    ("2026-11-22T09:15:00Z", 60, "2026-11-22T10:00:00Z"),
    ("2026-11-22T09:15:07Z", 0, "2026-11-22T09:15:07Z"),  # no window: now
])
def test_documents_wait_for_the_start_of_the_next_window(now, window, expected):
    assert embed_not_before(at(now), window) == expected


def test_every_document_of_a_window_gets_the_same_start():
    starts = {embed_not_before(at("2026-11-22T00:00:01Z") + minute * 60, 720) for minute in range(0, 719)}
    assert starts == {"2026-11-22T12:00:00Z"}
