"""The breaker's running counts give the verdict the attempts in the window give, over random histories."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.lifecycle.breaker import MIN_PORTALS, MIN_SHARE, WINDOW, Breaker

_STEPS = st.lists(st.tuples(st.floats(0, WINDOW / 3), st.integers(1, 12), st.booleans()), max_size=300)


def _verdict(history: list[tuple[float, int, bool]], now: float) -> bool:
    kept = [(h, f) for at, h, f in history if at >= now - WINDOW]
    failed = [h for h, f in kept if f]
    return len(set(failed)) >= MIN_PORTALS and len(failed) >= MIN_SHARE * len(kept)


@settings(max_examples=150, deadline=None)
@given(steps=_STEPS, forget_at=st.integers(0, 300))
def test_running_counts_match_the_window(steps: list[tuple[float, int, bool]], forget_at: int) -> None:
    clock = [1000.0]
    b = Breaker(clock=lambda: clock[0])
    history: list[tuple[float, int, bool]] = []
    for i, (gap, hub, failed) in enumerate(steps):
        if i == forget_at:
            b.forget()
            history.clear()
        clock[0] += gap
        history.append((clock[0], hub, failed))
        assert b.observe(hub, failed_transiently=failed) == _verdict(history, clock[0])
