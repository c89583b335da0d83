"""PAM's wire protocol, the one package PAM's clients import (docs/architecture.md).

- ``messages``: every command, reply and event as msgspec types, the routes table;
- ``states``: the three sub-states' wire names;
- ``decoding``: untrusted bytes to typed messages under the input rules;
- ``topology``: the broker's exchanges and queues, dead letters;
- ``client``: ``PamClient`` and ``EventStream``;
- ``examples``: one valid example of every command;
- ``logs``, ``runloop``, ``docsync``: what every PAM program shares (JSON logs, the
  event loop, generated sections of the docs).
"""
