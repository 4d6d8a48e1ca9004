"""Progress lines: each new tenth once, none while the stage is younger than a second."""

from __future__ import annotations

from hidebound_dagster.core.progress import Progress


def test_tenths_once_each_after_the_first_second() -> None:
    now = [0.0]
    lines: list[str] = []
    progress = Progress(lines.append, "copy", 20, clock=lambda: now[0])
    for done in range(1, 5):
        progress(done)  # 5%..20% in the first second: quiet
    now[0] = 1.5
    for done in range(5, 21):
        progress(done)
    assert lines == [  # 20% is said late, when the stage has run a second: once
        "copy: 20% (5 of 20)",
        *(f"copy: {t}% ({t // 5} of 20)" for t in range(30, 110, 10)),
    ]


def test_a_quick_stage_logs_nothing() -> None:
    lines: list[str] = []
    progress = Progress(lines.append, "copy", 3, clock=lambda: 0.2)
    for done in range(1, 4):
        progress(done)
    assert lines == []
