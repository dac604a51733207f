"""Vestry beside its peers, from one bench/side_by_side.sh sitting: medians, ratios, bars, memory.

    .venv/bin/python bench/compare.py RESULTS_DIR [--harness DIR]

Reads the harness's results (RESULTS_DIR/*.json, one per run, as run_all.sh saves them) and
RESULTS_DIR/memory.jsonl (bench/memory.py's lines), and prints, in markdown:
  1. the harness's own table of medians [min-max] per label (summarize.py, unchanged);
  2. ratios of Vestry's median to each peer's, oriented so that > 1 always means Vestry is ahead:
     throughput (req/s, MB/s) Vestry / peer; times (s, ms) peer / Vestry, "x times faster";
  3. issue #13's bars, each met or not met: a bar also fails if Vestry's runs of that metric had
     errors or failed uploads (a fast answer that is an error proves nothing), and the reads are
     only Vestry's if an anonymous request was refused;
  4. what each server answered an anonymous page and file GET;
  5. memory per label: RSS idle after start and after the benchmark, peak RSS, PSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VESTRY = "vestry"
PYTHON_PEERS = ("pypiserver", "devpi")
HIGHER_IS_BETTER = {"req/s", "MB/s"}
LOWER_IS_BETTER = {"s", "ms"}


@dataclass(frozen=True)
class Bar:
    """Vestry's ratio (oriented as above) to the best of `peers` must be >= `at_least`."""

    text: str
    metric: str
    field: str
    peers: Callable[[str], bool]
    at_least: float


def named(*names: str) -> Callable[[str], bool]:
    return lambda label: label in names


def peryx(label: str) -> bool:
    return label.startswith("peryx")  # any peryx mode the sitting ran (default: mirror-private)


BARS = [
    *(
        bar
        for c in (16, 64)
        for bar in (
            Bar(
                f"page c{c} req/s >= 2x best Python peer",
                f"simple_c{c}",
                "rps",
                named(*PYTHON_PEERS),
                2.0,
            ),
            Bar(f"page c{c} req/s >= peryx", f"simple_c{c}", "rps", peryx, 1.0),
        )
    ),
    # Vestry's p99 <= 10x nginx's, i.e. nginx p99 / Vestry p99 >= 0.1.
    Bar("page c16 p99 <= 10x nginx p99", "simple_c16", "p99_ms", named("nginx"), 0.1),
    Bar("root c16 req/s >= 2x pypiserver", "root_c16", "rps", named("pypiserver"), 2.0),
    Bar("root c64 req/s >= 2x pypiserver", "root_c64", "rps", named("pypiserver"), 2.0),
    Bar("download MB/s >= 0.75x nginx", "download_c8", "MB_per_s", named("nginx"), 0.75),
    Bar("pip install <= 1.1x nginx", "pip_install", "median_s", named("nginx"), 1 / 1.1),
    Bar("uv pip install <= 1.2x nginx", "uv_install", "median_s", named("nginx"), 1 / 1.2),
    Bar("twine upload <= pypiserver", "upload", "total_s", named("pypiserver"), 1.0),
]


def load_summarize(harness: Path) -> Any:
    sys.path.insert(0, str(harness))
    import summarize  # the harness's own table and metric list, so both tables agree

    return summarize


def runs_by_label(paths: Iterable[Path]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in sorted((json.loads(p.read_text()) for p in paths), key=lambda r: r["time"]):
        runs.setdefault(r["label"], []).append(r["metrics"])
    return runs


def median(runs: list[dict[str, Any]], metric: str, field: str) -> float | None:
    vals = [r[metric][field] for r in runs if r.get(metric, {}).get(field) is not None]
    return statistics.median(vals) if vals else None


def ratio(vestry: float | None, peer: float | None, unit: str) -> float | None:
    if vestry is None or peer is None or vestry <= 0 or peer <= 0:
        return None
    return vestry / peer if unit in HIGHER_IS_BETTER else peer / vestry


def unit_of(summarize: Any, metric: str, field: str) -> str:
    return next(u for m, f, u in summarize.HEADLINE if (m, f) == (metric, field))


def ratio_table(summarize: Any, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    peers = [label for label in runs if label != VESTRY]
    out = [
        "Vestry's median / each peer's (times: peer / Vestry); > 1: Vestry ahead.",
        "",
        "| metric | " + " | ".join(f"vs {p}" for p in peers) + " |",
        "|---|" + "---|" * len(peers),
    ]
    for m, f, unit in summarize.HEADLINE:
        if unit not in HIGHER_IS_BETTER | LOWER_IS_BETTER or m == "calib":
            continue
        mine = median(runs[VESTRY], m, f)
        cells = [ratio(mine, median(runs[p], m, f), unit) for p in peers]
        if any(c is not None for c in cells):
            shown = [f"{summarize.fmt(c)}x" if c is not None else "n/a" for c in cells]
            out.append(f"| {m} {f} ({unit}) | " + " | ".join(shown) + " |")
    return out


def vestry_faults(runs: list[dict[str, Any]], metric: str) -> str:
    """Why Vestry's figure for `metric` does not count, or ""."""
    errors = sum(r.get(metric, {}).get(k, 0) for r in runs for k in ("errors", "failed"))
    if any("error" in r.get(metric, {}) for r in runs):
        return "run failed"
    if errors:
        return f"{errors} errors"
    if metric.startswith("root_"):
        return ""  # the root listing is filtered per caller: anonymous callers get a 200 too
    anon = {r[metric]["anon_status"] for r in runs if "anon_status" in r.get(metric, {})}
    if anon - {401, 403}:
        return f"anonymous request answered {sorted(anon)}"
    return ""


def bar_lines(summarize: Any, runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    out = ["| bar (issue #13) | Vestry | best peer | ratio | |", "|---|---|---|---|---|"]
    for bar in BARS:
        unit = unit_of(summarize, bar.metric, bar.field)
        mine = median(runs[VESTRY], bar.metric, bar.field)
        candidates = [
            (r, p)
            for p in runs
            if p != VESTRY and bar.peers(p)
            if (r := ratio(mine, median(runs[p], bar.metric, bar.field), unit)) is not None
        ]
        if mine is None or not candidates:
            shown = "n/a" if mine is None else f"{summarize.fmt(mine)} {unit}"
            out.append(f"| {bar.text} | {shown} | not run | | n/a |")
            continue
        worst, best_peer = min(candidates)  # the lowest ratio is against the best peer
        fault = vestry_faults(runs[VESTRY], bar.metric)
        verdict = "not met" if fault or worst < bar.at_least else "**met**"
        peer_value = summarize.fmt(median(runs[best_peer], bar.metric, bar.field))
        out.append(
            f"| {bar.text} | {summarize.fmt(mine)} {unit} | {best_peer} {peer_value} {unit} | "
            f"{summarize.fmt(worst)}x (bar {bar.at_least:.2f}x) | {verdict}"
            + (f" ({fault})" if fault else "")
            + " |"
        )
    return out


MEMORY_ROWS = [
    ("idle", "rss_mb", "RSS idle after start (MB)"),
    ("idle", "pss_mb", "PSS idle after start (MB)"),
    ("after", "hwm_mb", "peak RSS, sum of each process's VmHWM (MB)"),
    ("after", "rss_mb", "RSS after the benchmark (MB)"),
    ("after", "pss_mb", "PSS after the benchmark (MB)"),
    ("after", "processes", "processes counted"),
]


def memory_lines(summarize: Any, labels: list[str], path: Path) -> list[str]:
    if not path.exists():
        return ["(no memory.jsonl)"]
    snaps = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    out = ["| memory | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for phase, field, text in MEMORY_ROWS:
        cells = []
        for label in labels:
            vals = [s[field] for s in snaps if s["label"] == label and s["phase"] == phase]
            cells.append(summarize.fmt(statistics.median(vals)) if vals else "n/a")
        out.append(f"| {text} | " + " | ".join(cells) + " |")
    return out


def anonymous_lines(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """What each server answered an anonymous GET of a page and of a file: 401/403 means its
    reads were authenticated, 200 that they were not (plain devpi cannot require it)."""
    out = ["| anonymous GET | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for metric, text in (("simple_c16", "project page"), ("download_c8", "file")):
        cells = [
            "/".join(sorted({str(r[metric]["anon_status"]) for r in rs if metric in r})) or "n/a"
            for rs in runs.values()
        ]
        out.append(f"| {text} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results", type=Path)
    p.add_argument("--harness", type=Path, default=ROOT.parent / "shared" / "bench")
    args = p.parse_args()
    summarize = load_summarize(args.harness)
    paths = sorted(args.results.glob("*.json"))
    runs = runs_by_label(paths)
    if VESTRY not in runs:
        sys.exit(f"no {VESTRY} run in {args.results}")
    print("## Medians of every run (n = runs per label)\n", flush=True)
    summarize.table([str(p) for p in paths])
    sys.stdout.flush()
    memory = args.results / "memory.jsonl"
    sections = [
        ("Ratios", ratio_table(summarize, runs)),
        ("Targets", bar_lines(summarize, runs)),
        ("Reads authenticated?", anonymous_lines(runs)),
        ("Memory (medians over runs)", memory_lines(summarize, list(runs), memory)),
    ]
    for title, lines in sections:
        print(f"\n## {title}\n")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
