"""How an emulator instance is set up: address, data dir, demo identities and initial faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from emulator.faults import FaultRule, FaultSettings, RateLimit


@dataclass
class EmulatorConfig:
    """Everything an emulator starts with; `/admin/reset` returns it to exactly this state."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path | None = None
    latency_ms: float = 0.0
    enforce_call_id: bool = False
    photo_upload_permission: bool = True
    session_ttl_s: int = 3600
    seed: int | None = None
    faults: list[FaultRule] = field(default_factory=list)
    rate_limit: RateLimit | None = None
    # Reject a `data` part that is not an image by its magic bytes (324), like the service would.
    check_image_bytes: bool = True
    # Write each image to the data dir (False: hash and count it, keep no bytes; for benchmarks).
    keep_bytes: bool = True
    # SHA-256 each image as it streams in (about 0.5 s of CPU per GB; False for benchmarks).
    hash_bytes: bool = True
    # The demo identities a new user can call with straight away.
    api_key: str = "demo-key"
    secret: str = "demo-secret"  # noqa: S105 - the public demo secret
    session_key: str = "demo-session"
    community: str = "demo"
    community_title: str = "Demo community"
    demo_uid: str = "100000000000001"
    demo_user_name: str = "Demo User"
    # A second user, so "an album of another user" can be tested and chosen on /login.
    other_uid: str = "100000000000002"
    other_user_name: str = "Second Tester"
    # Largest form field other than `data`; a larger one is a malformed request (100).
    max_field_bytes: int = 64 * 1024
    # Bound on how long a stall or a pending request may delay shutdown.
    shutdown_timeout_s: float = 1.0

    def fault_settings(self) -> FaultSettings:
        """The initial faults as the fault engine takes them."""
        return FaultSettings(
            rules=list(self.faults), latency_ms=self.latency_ms, rate_limit=self.rate_limit
        )
