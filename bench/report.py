"""The one table bench/throughput.py prints (Markdown, for the README) and the issue's targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from bench.baselines import Run
from bench.harness import percentile
from bench.scenarios import Big, Cell, Trickle, median_rate

DASH = "—"
Row = tuple[str, list[str]]


@dataclass
class Results:
    """Everything one run measured."""

    cells: list[Cell]
    trickles: list[Trickle]
    accounting: Counter[tuple[str, str]]
    accounting_uploads: int
    big: Big | None
    concurrency: int
    quiet_period_s: float


def size_label(size: int) -> str:
    """200 KB, 4 MB, 25 MB (decimal units, as the files are made)."""
    return f"{size / 1e6:g} MB" if size >= 1_000_000 else f"{size / 1e3:g} KB"


def _spread(runs: list[Run]) -> str:
    rates = [r.photos_s for r in runs]
    if not rates:
        return DASH
    text = f"{median_rate(runs):.1f}"
    return text if len(rates) < 2 else f"{text} ({min(rates):.0f}–{max(rates):.0f})"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if a > 0 and b > 0 else DASH


def _per_photo_ms(runs: list[Run], component: str) -> str:
    photos = sum(r.photos for r in runs)
    if not photos or any(component not in r.cpu_s for r in runs):
        return DASH
    return f"{sum(r.cpu_s[component] for r in runs) * 1000 / photos:.2f}"


def _share(runs: list[Run]) -> str:
    wall = sum(r.wall for r in runs)
    return f"{sum(r.cpu_s['emulator'] for r in runs) / wall * 100:.0f}%" if wall else DASH


def _pcts(values: list[float]) -> str:
    return f"{percentile(values, 50) * 1000:.1f} / {percentile(values, 99) * 1000:.1f}"


def _columns(results: Results) -> list[Cell]:
    """The cells, plus the --big run as a service-only column."""
    cells = list(results.cells)
    if results.big is not None:
        big = Cell(results.big.size, 0.0, results.big.run.photos, service=[results.big.run])
        big.peaks_mb, big.other_load = results.big.peaks_mb, results.big.other_load
        cells.append(big)
    return cells


def _rows(results: Results, cells: list[Cell]) -> list[Row]:
    def row(label: str, value: Callable[[Cell], str]) -> Row:
        return label, [value(c) for c in cells]

    def naive(c: Cell) -> float:
        return c.naive.photos_s if c.naive else 0.0

    def svc(c: Cell) -> float:
        return median_rate(c.service)

    def cpu(name: str) -> Callable[[Cell], str]:
        return lambda c: _per_photo_ms(c.service, name)

    def peak(name: str) -> Callable[[Cell], str]:
        return lambda c: f"{c.peaks_mb.get(name, 0):.0f}"

    def trickle(pick: Callable[[Trickle], list[float]]) -> Callable[[Cell], str]:
        def value(c: Cell) -> str:
            found = [
                t for t in results.trickles if (t.size, t.latency_ms) == (c.size, c.latency_ms)
            ]
            return _pcts(pick(found[0])) if found and c.raw else DASH

        return value

    rows = [
        row("**service** photos/s", lambda c: f"**{_spread(c.service)}**"),
        row("service MB/s", lambda c: f"{median_rate(c.service) * c.size / 1e6:.0f}"),
        row(f"(1) raw limit photos/s, {results.concurrency} threads", lambda c: _spread(c.raw)),
        row("(2) naive floor photos/s", lambda c: f"{naive(c):.1f}" if c.naive else DASH),
        row("(3) Celery path photos/s", lambda c: _spread(c.direct)),
        row("service ÷ raw limit (median of rounds)", lambda c: _ratio(c.raw_ratio(), 1.0)),
        row("service ÷ naive floor", lambda c: _ratio(svc(c), naive(c))),
        row("service ÷ Celery path", lambda c: _ratio(svc(c), median_rate(c.direct))),
    ]
    rows += [row(f"CPU ms/photo: {n}", cpu(n)) for n in ("watcher", "worker", "redis", "emulator")]
    rows += [
        row("CPU ms/photo: raw-limit client", lambda c: _per_photo_ms(c.raw, "client")),
        row(
            "emulator CPU ÷ wall: raw / service", lambda c: f"{_share(c.raw)} / {_share(c.service)}"
        ),
        row(
            "Redis commands/upload (all, incl. inside Lua)",
            lambda c: f"{c.redis_calls / sum(r.photos for r in c.service):.1f}" if c.raw else DASH,
        ),
    ]
    rows += [row(f"peak RSS MB: {n}", peak(n)) for n in ("worker", "watcher", "emulator", "redis")]
    rows.append(row("other processes' CPU ÷ machine", lambda c: f"{c.other_load * 100:.0f}%"))
    rows += [
        row("file closed→enqueued p50 / p99 ms", trickle(lambda t: t.to_enqueued)),
        row("file closed→uploaded p50 / p99 ms", trickle(lambda t: t.to_uploaded)),
    ]
    rows.append(row("Redis commands/upload sent by clients", partial(_sent, results, cells)))
    return rows


def _sent(results: Results, cells: list[Cell], cell: Cell) -> str:
    """The MONITOR figures: the burst pass (200 KB at 0 ms) and the trickle (4 MB at 0 ms)."""
    if cell is cells[0]:
        acc = accounting_summary(results.accounting, results.accounting_uploads)
        return (
            f"{acc['client']:.1f} burst (EVALSHA {acc['evalsha']:.1f}, PUBLISH "
            f"{acc['publish']:.1f}; +{acc['lua']:.1f} inside Lua)"
        )
    for t in results.trickles:
        if t.redis is not None and (t.size, t.latency_ms) == (cell.size, cell.latency_ms):
            acc = accounting_summary(t.redis, len(t.to_uploaded))
            return f"{acc['client']:.1f} trickle (+{acc['lua']:.1f} inside Lua)"
    return DASH


def accounting_summary(counts: Counter[tuple[str, str]], uploads: int) -> dict[str, float]:
    """Per upload: commands clients sent (EVALSHA = 1), of which EVALSHA, PUBLISH; and in Lua."""
    client = {cmd: n for (origin, cmd), n in counts.items() if origin == "client"}
    for ours in ("INFO", "CONFIG", "MONITOR", "HELLO", "SELECT"):  # the benchmark's own
        client.pop(ours, None)
    lua = sum(n for (origin, _), n in counts.items() if origin == "lua")
    return {
        "client": sum(client.values()) / uploads,
        "evalsha": client.get("EVALSHA", 0) / uploads,
        "publish": client.get("PUBLISH", 0) / uploads,
        "lua": lua / uploads,
    }


def table(results: Results) -> str:
    """The Markdown table: one column per size x latency (and --big), one row per figure."""
    cells = _columns(results)
    heads = [f"{size_label(c.size)} @ {c.latency_ms:g} ms" for c in cells]
    if results.big is not None:
        heads[-1] += " (--big)"
    lines = ["| figure | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for label, values in _rows(results, cells):
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def targets(results: Results) -> list[str]:
    """Each target of issue 7 with the measured value and MET or MISSED."""

    def verdict(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    out = []
    at50 = [c for c in results.cells if c.latency_ms == 50]
    for c in at50:
        if c.size >= 4_000_000:
            ratio = c.raw_ratio()
            out.append(
                f"{verdict(ratio >= 0.8)}: 50 ms, {size_label(c.size)}: service ÷ raw limit "
                f"{ratio:.2f} (≥ 0.8)"
            )
    for c in at50:
        ratio = median_rate(c.service) / (c.naive.photos_s if c.naive else float("inf"))
        out.append(
            f"{verdict(ratio >= 5)}: 50 ms, {size_label(c.size)}: service ÷ naive floor "
            f"{ratio:.1f} at concurrency {results.concurrency} (≥ 5)"
        )
    for t in results.trickles:
        p50 = percentile(t.to_enqueued, 50) * 1000
        out.append(
            f"{verdict(p50 <= 20)}: file closed→enqueued p50 {p50:.1f} ms at {t.latency_ms:g} ms "
            f"(≤ 20 ms beyond the quiet period; the {results.quiet_period_s:g} s quiet period "
            "does not apply: a close-write or a rename makes a file ready at once)"
        )
    peaks = [(c, c.peaks_mb.get("worker", 0.0)) for c in _columns(results)]
    out.append(
        f"{verdict(max(p for _, p in peaks) <= 100)}: worker peak RSS ≤ 100 MB per process: "
        + ", ".join(f"{size_label(c.size)} @ {c.latency_ms:g} ms {p:.0f}" for c, p in peaks)
    )
    passes = [("burst", accounting_summary(results.accounting, results.accounting_uploads))]
    passes += [
        ("trickle", accounting_summary(t.redis, len(t.to_uploaded)))
        for t in results.trickles
        if t.redis is not None
    ]
    for name, acc in passes:
        out.append(
            f"{verdict(acc['client'] <= 15)}: Redis ≤ 15 commands/upload ({name}): "
            f"{acc['client']:.1f} sent by clients, an EVALSHA counting 1 "
            f"({acc['client'] + acc['lua']:.1f} with the commands run inside Lua)"
        )
    return out
