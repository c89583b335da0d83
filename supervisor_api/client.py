"""Supervisor tools over PAM's queues: an async client wrapping ``PamClient``.

    async with await SupervisorClient.connect("amqp://sup:pw@host/vhost") as sup:
        for a in await sup.zone_agents("z1"):
            print(a.agent_id, a.agent_state, a.call_state, a.job_state)
        await sup.release_from_outbound("z1", "A")   # raises CommandRejected if refused
        async for ev in sup.watch("z1"):              # AgentStateChanged and Alarm
            ...

Only ``pam_protocol.client`` and ``pam_protocol.messages`` are used: supervisor tools are
users of PAM, like a desktop.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from pam_protocol import messages as m
from pam_protocol.client import EventStream, PamClient
from pam_protocol.topology import ON_BEHALF_OF
from supervisor_api.errors import CommandRejected

WatchEvent = m.AgentStateChanged | m.Alarm



class SupervisorClient:
    def __init__(self, pam: PamClient, *, timeout: float = 10.0) -> None:
        self.pam = pam
        self.timeout = timeout

    @classmethod
    async def connect(cls, url: str = "amqp://guest:guest@127.0.0.1:5672/", *,
                      user_id: str | None = None, timeout: float = 10.0) -> SupervisorClient:
        return cls(await PamClient.connect(url, user_id=user_id), timeout=timeout)

    async def close(self) -> None:
        await self.pam.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _ask(self, zone: str, cmd: m.Command, action: str,
                   agent: str | None = None, on_behalf_of: str | None = None) -> m.Accepted:
        """Send; raise ``CommandRejected`` (or the client's UnknownZone / ReplyTimeout).

        ``on_behalf_of`` names the person a shared tool acts for (the dashboard's logged-in
        supervisor); it travels as the ``x-pam-on-behalf-of`` header beside the
        broker-checked ``user_id``."""
        headers = {ON_BEHALF_OF: on_behalf_of} if on_behalf_of else None
        reply = await self.pam.send(zone, cmd, timeout=self.timeout, headers=headers)
        if isinstance(reply, m.Rejected):
            raise CommandRejected(reply, action=action, zone=zone, agent=agent,
                                  user=self.pam.user_id)
        return reply

    async def zone_status(self, zone: str) -> m.Accepted:
        """The zone's logged-in agents (by agent id) and job-tasks (by job id)."""
        return await self._ask(zone, m.GetZoneStatus(zone=zone), "the zone status request")

    async def zone_agents(self, zone: str) -> list[m.AgentSnapshot]:
        """The zone's logged-in agents, by agent id."""
        return list((await self.zone_status(zone)).agents or [])

    async def agent(self, zone: str, agent_id: str) -> m.AgentSnapshot:
        reply = await self._ask(zone, m.GetAgentStatus(agent_id=agent_id),
                                "the agent status request", agent_id)
        assert reply.agent is not None, "PAM answers GetAgentStatus with the agent"
        return reply.agent

    async def release_from_outbound(self, zone: str, agent_id: str, *,
                                    thrash_seconds: int = 0,
                                    on_behalf_of: str | None = None) -> m.AgentSnapshot:
        """Release From Outbound: JobInbound now if idle, PendingManualInbound if busy.
        For ``thrash_seconds`` PAM ignores the blender's attempts to return the agent."""
        reply = await self._ask(zone, m.ReleaseFromOutbound(agent_id=agent_id,
                                                            thrash_seconds=thrash_seconds),
                                "the release", agent_id, on_behalf_of)
        return reply.agent or await self.agent(zone, agent_id)

    async def move_agent_to_job(self, zone: str, agent_id: str, job_id: str, *,
                                on_behalf_of: str | None = None) -> m.AgentSnapshot:
        """Move to another outbound job: now if idle, PendingManualJobMovement if busy."""
        reply = await self._ask(zone, m.MoveAgentToJob(agent_id=agent_id, job_id=job_id),
                                f"the move to job {job_id}", agent_id, on_behalf_of)
        return reply.agent or await self.agent(zone, agent_id)

    async def force_not_ready(self, zone: str, agent_id: str, reason_code: int,
                              reason: str | None = None, *,
                              on_behalf_of: str | None = None) -> m.AgentSnapshot:
        """NotReady now when idle, PendingNotReady when working (v1.1, beyond POM)."""
        reply = await self._ask(zone, m.ForceNotReady(agent_id=agent_id,
                                                      reason_code=reason_code, reason=reason),
                                "the forced NotReady", agent_id, on_behalf_of)
        return reply.agent or await self.agent(zone, agent_id)

    async def force_logout(self, zone: str, agent_id: str, *,
                           on_behalf_of: str | None = None) -> m.AgentSnapshot:
        """Logout now when idle, PendingLogout (at the end of the call) when working."""
        reply = await self._ask(zone, m.ForceLogout(agent_id=agent_id), "the forced logout",
                                agent_id, on_behalf_of)
        return reply.agent or await self.agent(zone, agent_id)

    def watch(self, zone: str, *, states: bool = True, alarms: bool = True) -> ZoneWatch:
        """The zone's agent state changes and alarms as they happen (``async for``)."""
        return ZoneWatch(self.pam, zone, states=states, alarms=alarms)


class ZoneWatch:
    """An async iterator of a zone's ``AgentStateChanged`` and ``Alarm`` events.

    It subscribes on the first ``__anext__`` (or ``await start()``, to be sure nothing
    is missed from a known point on); duplicates (events are published at least once)
    are dropped by their ``seq``. ``close()`` (or ``async with``) unsubscribes.
    """

    def __init__(self, pam: PamClient, zone: str, *, states: bool = True,
                 alarms: bool = True) -> None:
        self.pam = pam
        self.zone = zone
        self.patterns = ([m.ROUTES["state"].pattern(zone)] if states else []) + (
            [m.ROUTES["alarm"].pattern(zone)] if alarms else [])
        if not self.patterns:
            raise ValueError("watch nothing? ask for states, alarms or both")
        self._stream: EventStream | None = None
        self._seen: dict[tuple[str, str], int] = {}

    async def start(self) -> Self:
        if self._stream is None:
            self._stream = await self.pam.subscribe(self.patterns)
        return self

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
            self._stream = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEvent:
        stream = (await self.start())._stream
        assert stream is not None
        while True:
            _, ev = await stream.__anext__()
            if isinstance(ev, m.AgentStateChanged):
                key = ("state", ev.snapshot.agent_id)
            elif isinstance(ev, m.Alarm):
                key = ("alarm", ev.agent_id or "")
            else:
                continue
            if ev.seq and ev.seq <= self._seen.get(key, 0):
                continue  # a duplicate delivery
            self._seen[key] = ev.seq
            return ev
