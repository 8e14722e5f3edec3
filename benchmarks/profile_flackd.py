"""Profile flackd under a steady fan-out load: where does a core's time go?

Starts flackd (pinned to core 0, the benchmark's flags) and the C load generator (core 1)
exactly as ``benchmarks/run.py`` does, sends a steady rate to one channel, and samples
flackd with py-spy (a sampling profiler that attaches by PID, so flackd runs unmodified).
Prints the functions and lines with the most samples, by themselves and including what
they call, and keeps the sampled stacks in collapsed form (``benchmarks/results/
profile-<time>.txt``; speedscope.app and flamegraph.pl read that format).

Usage (py-spy is not a dependency of Flack; it is installed into the venv on first use)::

    .venv/bin/python benchmarks/profile_flackd.py --members 200 --rate 30000 --seconds 8
    .venv/bin/python benchmarks/profile_flackd.py --members 50 --rate 60000

``--rate`` is messages per second in total (deliveries are that times members - 1).
Everything runs on 127.0.0.1; both processes are stopped by their PIDs.

The flackd profiled is the development tree, pure Python, so that every frame is
Python's (``run.py`` measures the compiled build by default). ``--server
flackd@src=build/compiled`` profiles the compiled one (``scripts/build-compiled.sh``
first); py-spy then shows its compiled modules only with ``--native``, which this script
does not pass (py-spy refuses ``--native`` with ``--nonblocking``, and a blocking sampler
slows flackd down).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run  # benchmarks/run.py: the same servers, loadgen and pinning

SPY = run.VENV_BIN / "py-spy"


def ensure_py_spy() -> str:
    found = run._which(str(SPY), "py-spy")
    if found is None:
        run.say(run._pip_install("py-spy") or "installed py-spy")
        found = run._which(str(SPY), "py-spy")
    if found is None:
        raise SystemExit("py-spy is needed: pip install py-spy")
    return found


def collapse(raw: Path, top: int) -> list[str]:
    """The ``top`` frames by samples where they were running, and by samples including callees."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return ["no samples (was flackd busy?)"]
    out = [f"{total} samples", "-- where the time is spent (self)"]
    out += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    out.append("-- including callees (flackd's own frames)")
    ours = [(f, n) for f, n in inclusive.most_common() if "flackd/" in f]
    out += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in ours[:top]]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200, help="channel members (200)")
    parser.add_argument("--senders", type=int, default=10, help="senders among them (10)")
    parser.add_argument(
        "--channels",
        type=int,
        default=1,
        help="channels the members are spread over (1; e.g. --members 2000 --channels 200 "
        "--senders 500 for many small rooms)",
    )
    parser.add_argument("--rate", type=float, default=30000, help="messages/s in total (30000)")
    parser.add_argument("--seconds", type=int, default=8, help="seconds of load (8)")
    parser.add_argument("--top", type=int, default=25, help="rows per table (25)")
    parser.add_argument("--out", type=Path, default=run.RESULTS, help="where files go")
    parser.add_argument(
        "--server",
        default="flackd",
        help="which mode: flackd, "
        + ", ".join(run.FLACKD_MODES)
        + ", or a variant with flags of its own as in run.py (flackd@write-delay-us=0)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.channels <= args.members // 2:
        raise SystemExit("--channels 1..members/2")
    if not 2 <= args.members <= 5000 or not 0 < args.rate <= 1_000_000 or args.seconds > 120:
        raise SystemExit("--members 2..5000, --rate up to 1e6, --seconds up to 120")
    spy = ensure_py_spy()
    if args.server.split("@")[0] not in ("flackd", *run.FLACKD_MODES):
        raise SystemExit(f"--server: flackd, {', '.join(run.FLACKD_MODES)} or a variant")
    known = run.make_servers()
    server = run.variant(known, args.server)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = args.out / f"profile-{stamp}.txt"
    with tempfile.TemporaryDirectory(prefix="flack-profile-") as tmp_name:
        tmp = Path(tmp_name)
        binary = run.build_loadgen(tmp)
        with run.running(server, tmp, []) as (process, port):
            gen = run.Loadgen(
                binary,
                port,
                "flack",
                args.members,
                senders=min(args.senders, args.members),
                channels=args.channels,
                log=tmp / "loadgen.log",
            )
            try:
                gen.ready()
                gen.command("settle 10", 30)
                gen.send(f"run {args.rate} {args.seconds} 3")
                time.sleep(1)  # sample the middle of the run: from 1 s in, for seconds - 2
                spy_argv = [spy, "record", "--pid", str(process.pid), "--rate", "250"]
                spy_argv += ["--duration", str(max(1, args.seconds - 2)), "--nonblocking"]
                spy_argv += ["--format", "raw", "--output", str(raw)]
                subprocess.run(spy_argv, check=True, capture_output=True, timeout=args.seconds + 60)
                result = gen.read(args.seconds + 60)
            finally:
                gen.close()
        # The server's own summary (e.g. the committer's timings with --data-dir).
        for log_file in tmp.glob(f"{server.name}-*.log"):
            for line in log_file.read_text(errors="replace").splitlines():
                if "committer:" in line:
                    run.say(line.split("flackd: ", 1)[-1])
    delivered = result.get("deliveries_per_s", 0.0)
    run.say(
        f"flackd, {args.members} members, {args.rate:g} messages/s offered: delivered "
        f"{run.fmt_rate(delivered)}, p50 {result.get('p50_ms', 0):.2f} ms, "
        f"p99 {result.get('p99_ms', 0):.2f} ms, lost {result.get('lost', 0)}"
    )
    for line in collapse(raw, args.top):
        run.say(line)
    run.say(f"sampled stacks: {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
