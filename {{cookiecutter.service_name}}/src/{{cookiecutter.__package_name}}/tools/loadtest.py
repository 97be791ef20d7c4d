"""Load-test a running service with its example inputs: `make bench`.

python -m <package>.tools.loadtest [URL] [--seconds 5] [--concurrency 1,8,32]

Keeps `concurrency` connections busy with POST /v1/predict for `seconds` at each
level and prints requests per second, p50, p99 and errors. Exits 1 when a level
misses LOADTEST_P99_MS or LOADTEST_ERROR_RATE (see settings.py), 2 when the
service cannot be reached.
"""

import argparse
import asyncio
import sys
import time
from urllib.parse import urlsplit

from ..model import Input
from ..serving.runtime import example_input
from ..serving.settings import Settings, SettingsError


def bodies() -> list[bytes]:
    """Every example in Input's schema, as request bodies."""
    examples = Input.model_json_schema().get("examples") or []
    items = [Input.model_validate(e) for e in examples] or [example_input()]
    return [item.model_dump_json().encode() for item in items]


async def client(
    host: str, port: int, path: str, payloads: list[bytes], until: float
) -> tuple[list[float], int]:
    """One keep-alive connection sending requests back to back until `until`."""
    latencies, errors = [], 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        i = 0
        while time.perf_counter() < until:
            body = payloads[i % len(payloads)]
            i += 1
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            started = time.perf_counter()
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            errors += status_line.split()[1:2] != [b"200"]
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors += 1
    finally:
        writer.close()
    return latencies, errors


async def level(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    """Measure one concurrency level."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path.rstrip("/") + "/v1/predict"
    until = time.perf_counter() + seconds
    payloads = bodies()
    runs = await asyncio.gather(
        *(client(host, port, path, payloads, until) for _ in range(concurrency))
    )
    latencies = sorted(x for run, _ in runs for x in run)
    errors = sum(e for _, e in runs)
    count = len(latencies)

    def percentile(p: float) -> float:
        return latencies[min(count - 1, int(p * count))] * 1000 if count else 0.0

    return {
        "concurrency": concurrency,
        "requests": count,
        "rps": count / seconds,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "errors": errors,
        "error_rate": errors / max(count, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load-test a running service.")
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    budget, max_errors = settings.loadtest_p99_ms, settings.loadtest_error_rate
    print(f"{args.url}: p99 budget {budget} ms, error rate at most {max_errors}")
    print(
        f"{'concurrency':>11} {'requests':>9} {'req/s':>9} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7}  verdict"
    )
    failed = False
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        try:
            result = asyncio.run(level(args.url, concurrency, args.seconds))
        except OSError as error:
            print(f"cannot reach {args.url}: {error}", file=sys.stderr)
            return 2
        ok = result["p99_ms"] <= budget and result["error_rate"] <= max_errors
        ok = ok and result["requests"] > 0
        failed = failed or not ok
        print(
            f"{concurrency:>11} {result['requests']:>9} {result['rps']:>9.1f} "
            f"{result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} "
            f"{result['errors']:>7}  {'ok' if ok else 'MISSED'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
