"""Process settings applied at start."""

from __future__ import annotations

import gc

from qingzhi.runtime import FULL_COLLECTION_EVERY, tune_gc


def test_tune_gc_freezes_what_exists_and_collects_fully_less_often() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_EVERY)
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
