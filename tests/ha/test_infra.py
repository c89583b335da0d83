"""infra/: the production configuration parses and agrees with what PAM declares.
(Docker is not available here: these are checks of the files, not a deployment.)"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pam_protocol import topology

INFRA = Path(__file__).resolve().parents[2] / "infra"
SERVICES = ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3", "redis-1", "redis-2", "redis-3",
            "sentinel-1", "sentinel-2", "sentinel-3", "pam-1", "pam-2", "pam-blender"]


def definitions() -> Any:
    return json.loads((INFRA / "rabbitmq" / "definitions.json").read_text())


def test_definitions_declare_the_topology_exactly_as_pam_service_does() -> None:
    d = definitions()
    exchanges = {e["name"]: e["type"] for e in d["exchanges"]}
    assert exchanges == {topology.COMMANDS: "direct", topology.EVENTS: "topic",
                         topology.DLX: "fanout"}
    queues = {q["name"]: q for q in d["queues"]}
    assert queues[topology.DEAD]["arguments"] == {"x-queue-type": "quorum"}
    zones = [n for n in queues if n.startswith("pam.zone.")]
    assert zones
    for name in zones:  # a different argument would make PAM's declare fail
        assert queues[name]["durable"] and queues[name]["arguments"] == {
            "x-queue-type": "quorum", "x-single-active-consumer": True,
            "x-dead-letter-exchange": topology.DLX, "x-delivery-limit": topology.DELIVERY_LIMIT}
    bound = {(b["source"], b["destination"], b["routing_key"]) for b in d["bindings"]}
    for name in zones:
        zone = name.removeprefix("pam.zone.")
        assert (topology.COMMANDS, topology.zone_queue(zone), zone) in bound
    assert (topology.DLX, topology.DEAD, "#") in bound
    assert {p["name"] for p in d["policies"]} >= {"pam-zones", "pam-dead"}
    assert {v["name"] for v in d["vhosts"]} == {"pam"}


def test_every_role_user_exists_with_a_valid_password_hash_and_permissions() -> None:
    d = definitions()
    users = {u["name"]: u for u in d["users"]}
    roles = tomllib.loads((INFRA / "pam" / "roles.toml").read_text())
    assert set(roles["users"]) <= set(users)
    assert roles["development"] is False
    spec = importlib.util.spec_from_file_location("hp", INFRA / "rabbitmq" / "hash_password.py")
    assert spec is not None and spec.loader is not None
    hp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hp)
    for u in users.values():
        raw = base64.b64decode(u["password_hash"])
        assert len(raw) == 4 + hashlib.sha256().digest_size
        assert u["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        assert hp.rabbit_hash("change-me", raw[:4]) == u["password_hash"]  # the placeholder
    perms = {p["user"]: p for p in d["permissions"]}
    assert set(perms) == set(users) and "pam" in perms
    # the service may read the zone queues and reply through the default exchange
    assert re.fullmatch(perms["pam"]["read"], "pam.zone.z1")
    assert re.fullmatch(perms["pam"]["write"], "amq.default")
    # a desktop may publish commands and bind its own queue to events, nothing of PAM's
    desk = perms["desktop"]
    assert re.fullmatch(desk["write"], "pam.commands") and re.fullmatch(desk["read"], "pam.events")
    assert not re.fullmatch(desk["read"], "pam.zone.z1")


def test_compose_file_names_every_service_and_mounts_the_configuration() -> None:
    text = (INFRA / "compose.yaml").read_text()
    try:
        import yaml  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:  # PyYAML is not a dependency: check the text
        for name in SERVICES:
            assert re.search(rf"^  {re.escape(name)}:\s*$", text, re.M), name
    else:
        doc = yaml.safe_load(text)
        assert set(SERVICES) <= set(doc["services"])
        assert "rabbitmq:3.13-management" in doc["x-rabbitmq"]["image"]
    assert "rabbitmq:3.13-management" in text
    for path in ("./rabbitmq/rabbitmq.conf", "./rabbitmq/definitions.json",
                 "./redis/redis.conf", "./redis/sentinel.conf", "./pam/roles.toml"):
        assert path in text and (INFRA / path).exists(), path
    assert text.count("--prefer") >= 3
    assert "redis+sentinel://sentinel-1:26379,sentinel-2:26379,sentinel-3:26379/pam/0" in text


def test_redis_and_sentinel_configs_persist_and_watch_the_primary() -> None:
    redis_conf = (INFRA / "redis" / "redis.conf").read_text()
    assert re.search(r"^appendonly yes$", redis_conf, re.M)
    assert re.search(r"^maxmemory-policy noeviction$", redis_conf, re.M)
    sentinel = (INFRA / "redis" / "sentinel.conf").read_text()
    assert re.search(r"^sentinel monitor pam redis-1 6379 2$", sentinel, re.M)
    rabbit = (INFRA / "rabbitmq" / "rabbitmq.conf").read_text()
    nodes = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d = (\S+)$", rabbit, re.M)
    assert nodes == ["rabbit@rabbitmq-1", "rabbit@rabbitmq-2", "rabbit@rabbitmq-3"]
    assert "definitions.local.path = /etc/rabbitmq/definitions.json" in rabbit
