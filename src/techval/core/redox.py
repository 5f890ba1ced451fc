"""Redox facts that more than one module relies on, each written down once (docs/redox-facts.md
says where each comes from and what to change when Redox answers otherwise)."""

from __future__ import annotations

MAX_MESSAGE_BYTES = 40_000_000  # Redox: 40 MB for API and Network Onramp traffic (5.8)
