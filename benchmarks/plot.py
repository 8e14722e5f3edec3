"""Plot latency against delivered rate per server from a benchmarks/run.py results file.

Usage (matplotlib is not a dependency of Flack; install it into the venv first)::

    .venv/bin/pip install matplotlib
    .venv/bin/python benchmarks/plot.py [benchmarks/results/latest.json] [-o docs/performance.png]

One panel per fan-out workload: every ramp step of every repeat is a point (delivered
deliveries per second, p99 latency). For each server's median run, the line joins the
steps that passed, in order of rate, and an x marks each step that failed (p99 over the
limit, or loss). The dashed line is the 50 ms p99 limit of the ramp.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
COLORS = {
    "flackd": "tab:red",
    "relay": "tab:orange",
    "ngircd": "tab:blue",
    "inspircd": "tab:green",
    "miniircd": "tab:purple",
}


def median_run(workload: str, runs: list[dict[str, Any]], summary: dict[str, Any]) -> int:
    """Index of the run whose best rate is the summary's median (or the first with steps)."""
    target = summary.get("value")
    for i, run in enumerate(runs):
        best = run.get("best")
        if best and target is not None and abs(best["deliveries_per_s"] - target) < 1e-6:
            return i
    return next((i for i, run in enumerate(runs) if run.get("steps")), 0)


def _xy(steps: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Delivered rate (millions a second) and p99 latency (ms) of each step."""
    return [s["deliveries_per_s"] / 1e6 for s in steps], [max(s["p99_ms"], 0.01) for s in steps]


def plot(report: dict[str, Any], out: Path) -> None:
    workloads = [w for w in report["runs"] if w.startswith("fanout-")]
    if not workloads:
        raise SystemExit("no fan-out results in this file")
    fig, axes = plt.subplots(1, len(workloads), figsize=(6.5 * len(workloads), 4.8), squeeze=False)
    limit = report["settings"]["p99_limit_ms"]
    for ax, workload in zip(axes[0], workloads, strict=True):
        for server, runs in report["runs"][workload].items():
            color = COLORS.get(server, "black")
            summary = report["summary"].get(workload, {}).get(server, {})
            chosen = median_run(workload, runs, summary)
            for i, run in enumerate(runs):
                steps = sorted(run.get("steps", []), key=lambda s: s["deliveries_per_s"])
                passed = [s for s in steps if s.get("pass")]
                failed = [s for s in steps if not s.get("pass")]
                if i == chosen:
                    ax.plot(*_xy(passed), "o-", color=color, label=server, markersize=4)
                    ax.plot(*_xy(failed), "x", color=color, markersize=6)
                else:
                    ax.plot(*_xy(steps), "o", color=color, alpha=0.3, markersize=3)
        ax.axhline(limit, color="grey", linestyle="--", linewidth=1)
        ax.text(0.01, limit * 1.08, f"p99 limit {limit:g} ms", color="grey", fontsize=8,
                transform=ax.get_yaxis_transform())  # fmt: skip
        members = workload.split("-")[1]
        ax.set_title(f"1 channel, {members} members, 100-byte messages")
        ax.set_xlabel("delivered (million deliveries per second)")
        ax.set_ylabel("p99 latency (ms, log scale)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    cpu = report.get("machine", {}).get("cpu", "?")
    fig.suptitle(f"Fan-out latency vs delivered rate (server on core 0, loadgen on core 1; {cpu})",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Plot benchmarks/run.py results.")
    parser.add_argument("results", nargs="?", type=Path,
                        default=ROOT / "benchmarks" / "results" / "latest.json")  # fmt: skip
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "performance.png")
    args = parser.parse_args()
    plot(json.loads(args.results.read_text()), args.out)


if __name__ == "__main__":
    main()
