"""Run the watcher in its own process for the signal and permission tests; JSON logs on stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import structlog

from config.settings import Settings, WatchFolder
from scheduler.main import run_watcher
from scheduler.options import WatcherOptions


def main() -> None:
    """Parse the test's arguments and watch one folder until a signal arrives."""
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--quiet", type=float, default=0.2)
    parser.add_argument("--rescan", type=float, default=60.0)
    parser.add_argument("--on-watch-limit", choices=["fail", "poll"], default="fail")
    parser.add_argument("--poll-interval", type=float, default=0.2)
    args = parser.parse_args()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
    )
    settings = Settings(
        redis_url=args.redis_url,
        watch=[
            WatchFolder(
                path=args.root, quiet_period_s=args.quiet, poll_interval_s=args.poll_interval
            )
        ],
    )
    options = WatcherOptions(
        rescan_interval_s=args.rescan,
        retry_initial_s=0.1,
        retry_max_s=0.5,
        on_watch_limit=args.on_watch_limit,
    )
    run_watcher(settings, None, options=options)


if __name__ == "__main__":
    main()
