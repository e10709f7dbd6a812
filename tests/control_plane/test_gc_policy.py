"""The garbage-collector policy while serving (mlserve/control_plane/gc_policy.py)."""

from __future__ import annotations

import gc

from mlserve.control_plane.gc_policy import serving_gc
from tests.conftest import Stack


def test_full_collections_are_spaced_out_while_serving_and_restored_after() -> None:
    before = gc.get_threshold()
    with serving_gc(2500):
        assert gc.get_threshold() == (before[0], before[1], 2500)
    assert gc.get_threshold() == before


def test_what_start_up_left_alive_is_frozen_and_its_garbage_collected_first() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    kept = Node()
    Node()  # start-up garbage in a cycle: collected, not frozen forever
    gc.unfreeze()
    with serving_gc(1000):
        assert gc.get_freeze_count() > 0
        # neither generation holds a Node: the garbage one was freed, kept is frozen
        assert not any(type(o) is Node for o in gc.get_objects())
    assert kept.me is kept
    assert not any(type(o) is Node for o in gc.get_objects())  # start-up objects stay frozen


def test_the_running_control_plane_applies_the_setting(stack: Stack) -> None:
    # the session's control plane runs in this process (uvicorn in a thread)
    assert stack.settings.server.gc_full_collection_threshold == 1000
    assert gc.get_threshold()[2] == 1000
