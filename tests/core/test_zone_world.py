"""The state machine reads the zone's records through a view, not a copy: a command
costs the same in a zone of 20,000 agents as in one of ten (a copy of the zone's dicts
for every step once made it cost in proportion to the zone)."""

from __future__ import annotations

from tests.core.sim import Sim


def test_the_world_is_a_live_view_of_the_zone_records() -> None:
    s = Sim()
    s.login("A")
    world = s.zone._world()
    # absent records count as loaded and read as None (the machine may ask for any)
    assert "nobody" in world.agents and world.agents["nobody"] is None
    assert world.agents.get("nobody") is None
    # a view: what the zone holds after the world was made shows through it
    s.login("B")
    b = world.agents["B"]
    assert b is not None and b is s.zone.agents["B"]
    assert len(world.agents) == len(s.zone.agents) and set(world.agents) == {"A", "B"}

