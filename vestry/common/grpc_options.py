"""Channel options shared by every gRPC client and server of Vestry.

A module of its own, importing nothing but the standard library, so that a client (the CLI's
health check, `vestry up`'s supervisor) does not load the server side's database error handling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Large enough for a 10,000-release project page in one message.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
CHANNEL_OPTIONS: Sequence[tuple[str, Any]] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)

# gRPC shares connections ("subchannels") between all channels of a process by default, and with
# them their reconnect backoff: a new channel to an address whose last server died fails at once
# ("connections to all backends failing") even though a fresh server now listens there. A CLI
# talking to a just-restarted replica, or a test reusing a port, must connect for real.
#
# Reconnect backoff is capped well below the gateway's `Retry-After` (5 s): gRPC's own cap is two
# minutes, so after a long outage a gateway would go on refusing for up to two minutes after the
# service came back, and a client that waited as told would be refused again.
MAX_RECONNECT_BACKOFF_MS = 3000
CLIENT_OPTIONS: Sequence[tuple[str, Any]] = (
    *CHANNEL_OPTIONS,
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
)
