"""The one object every handler reaches: config, store, faults, counters and the data dir layout."""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from emulator.config import EmulatorConfig
from emulator.faults import Faults
from emulator.store import Application, Community, Store, User


@dataclass
class Counters:
    """What the emulator has seen since start (or the last reset), for /admin/inspect."""

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    bytes_received: int = 0
    photos_stored: int = 0
    dropped: int = 0
    stalled: int = 0
    in_flight: int = 0  # API calls between arrival and answer
    peak_in_flight: int = 0  # what a client's concurrency limit has to keep low

    def to_json(self) -> dict[str, Any]:
        """The counters as the inspection endpoint shows them."""
        return {
            "requests": dict(self.requests),
            "errors": {str(code): n for code, n in sorted(self.errors.items())},
            "bytes_received": self.bytes_received,
            "photos_stored": self.photos_stored,
            "dropped": self.dropped,
            "stalled": self.stalled,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
        }


class EmulatorState:
    """Holds the live state and knows how to return it to the configured start."""

    def __init__(
        self, config: EmulatorConfig, data_dir: Path, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.clock = clock
        self.data_dir = data_dir
        self.photos_dir = data_dir / "photos"
        self.incoming_dir = data_dir / "incoming"
        self.thumbs_dir = data_dir / "thumbs"
        self.reset()

    def reset(self) -> None:
        """Forget every album, photo, session and counter; restore the configured faults."""
        for directory in (self.photos_dir, self.incoming_dir, self.thumbs_dir):
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True, exist_ok=True)
        seed = self.config.seed
        # Separate generators: ids never shift the fault sequence a test relies on, and back.
        self.store = Store(random.Random(None if seed is None else f"ids-{seed}"))
        self.faults = Faults(self.config.fault_settings(), random.Random(seed))
        self.counters = Counters()
        self._seed_identities()

    def _seed_identities(self) -> None:
        cfg, store = self.config, self.store
        store.apps[cfg.api_key] = Application(
            api_key=cfg.api_key,
            secret=cfg.secret,
            name="Demo application",
            photo_upload=cfg.photo_upload_permission,
        )
        for uid, name in ((cfg.demo_uid, cfg.demo_user_name), (cfg.other_uid, cfg.other_user_name)):
            store.users[uid] = User(uid, name)
        store.communities[cfg.community] = Community(cfg.community, cfg.community_title)
        store.add_session(cfg.demo_uid, cfg.api_key, expires=0, key=cfg.session_key)

    def now(self) -> float:
        """The current Unix time, from the injectable clock."""
        return self.clock()


STATE_KEY = web.AppKey("emulator_state", EmulatorState)
