"""An open-loop HTTP load generator: requests leave at a steady rate whatever the server does.

A closed-loop tool (wrk, ab) sends the next request only when an answer came back, so a slow
server is sent less and its slow answers are under-counted (coordinated omission). Here request
i is due at `start + i / rate`; its latency is counted from that moment, so time spent waiting
for a free connection or a late event loop is part of it, as it would be for a real client.

Used by `api_load.py`; on its own:

    python benchmarks/loadgen.py http://127.0.0.1:8000 paths.txt --rate 200 --seconds 30 \
        --header "Authorization: Bearer lmb_…"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp


@dataclass
class Figures:
    name: str
    requests: int
    errors: int
    statuses: dict[str, int]
    rate_asked: float
    rate_achieved: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_share: float  # of one core, over the run's wall time

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.requests:>6} req  {self.rate_achieved:>6.1f}/s  "
            f"p50 {self.p50_ms:>7.1f}  p90 {self.p90_ms:>7.1f}  p99 {self.p99_ms:>7.1f}  "
            f"max {self.max_ms:>7.1f} ms  errors {self.errors}  "
            f"client CPU {self.client_cpu_share:.0%} of a core"
        )


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def open_loop(
    name: str,
    base_url: str,
    paths: list[str],
    *,
    rate: float,
    seconds: float,
    headers: dict[str, str] | None = None,
    warmup_seconds: float = 2.0,
) -> Figures:
    """Send `rate` requests per second for `seconds` (after a warm-up that is not counted),
    cycling through `paths`."""
    connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=30)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0

    async with aiohttp.ClientSession(
        base_url, connector=connector, timeout=timeout, headers=headers
    ) as client:

        async def fire(path: str, due: float, counted: bool) -> None:
            nonlocal errors
            try:
                async with client.get(path) as response:
                    await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as e:
                status = type(e).__name__
            if not counted:
                return
            latencies.append((time.perf_counter() - due) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if not status.startswith("2"):
                errors += 1

        async def send(total_seconds: float, counted: bool, offset: int) -> float:
            n = int(rate * total_seconds)
            tasks = []
            start = time.perf_counter()
            for i in range(n):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                path = paths[(offset + i) % len(paths)]
                tasks.append(asyncio.create_task(fire(path, due, counted)))
            await asyncio.gather(*tasks)
            return time.perf_counter() - start

        await send(warmup_seconds, False, 0)
        cpu0 = cpu_seconds()
        wall = await send(seconds, True, int(rate * warmup_seconds))
        cpu = cpu_seconds() - cpu0

    ordered = sorted(latencies)
    return Figures(
        name=name,
        requests=len(latencies),
        errors=errors,
        statuses=statuses,
        rate_asked=rate,
        rate_achieved=len(latencies) / wall,
        p50_ms=round(percentile(ordered, 50), 1),
        p90_ms=round(percentile(ordered, 90), 1),
        p99_ms=round(percentile(ordered, 99), 1),
        max_ms=round(ordered[-1] if ordered else float("nan"), 1),
        client_cpu_share=cpu / wall,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base_url")
    parser.add_argument("paths", type=Path, help="a file with one path per line")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    paths = [p for p in args.paths.read_text().splitlines() if p]
    figures = asyncio.run(
        open_loop(
            args.paths.stem,
            args.base_url,
            paths,
            rate=args.rate,
            seconds=args.seconds,
            headers=headers,
        )
    )
    print(json.dumps(asdict(figures)) if args.json else figures.line())


if __name__ == "__main__":
    main()
