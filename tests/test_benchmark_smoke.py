"""The benchmark harness works end to end: ``benchmarks/run.py --smoke``.

A seconds-long run against flackd (in memory and with --data-dir) and the bare relay with
tiny client counts: it builds the
C load generator, starts each server as a child process on a free loopback port, drives
every workload (among them many small rooms: 40 clients in 8 rooms of 5, 10 of them
sending), stops the servers by their PIDs and writes the results JSON. A second,
shorter run drives flackd-cluster (two nodes and a redis-server of its own) through the
fan-out workload only. These tests assert only that messages were delivered and none was
lost, never a speed (conftest rule 4); the figures themselves live in docs/performance.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("flackd", "flackd-durable", "relay")


def smoke(
    tmp_path_factory: pytest.TempPathFactory, *more: str, timeout: float = 120
) -> dict[str, Any]:
    """The results of ``benchmarks/run.py --smoke`` with ``more`` arguments."""
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler (cc or gcc): the benchmark's load generator is built from C")
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    argv = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--no-install"]
    done = subprocess.run(
        [*argv, *more, "--out", str(out)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return smoke(tmp_path_factory)


@pytest.fixture(scope="module")
def cluster_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not on the PATH: flackd-cluster starts one of its own")
    return smoke(tmp_path_factory, "--servers", "flackd-cluster", "--workloads", "fanout")


@pytest.mark.subprocess
def test_smoke_run_covers_both_servers_and_every_workload(report: dict[str, Any]) -> None:
    assert report["smoke"] is True
    assert set(report["servers"]) == set(SERVERS)
    assert set(report["runs"]) == {"fanout-10", "rooms", "latency", "channels", "idle", "storm"}
    for workload, runs in report["runs"].items():
        assert set(runs) == set(SERVERS), workload


@pytest.mark.subprocess
def test_a_smoke_run_measures_flackd_as_installed(report: dict[str, Any]) -> None:
    """``--smoke`` builds nothing: flackd runs as this environment imports it, so the
    suite's compiled run (``PYTHONPATH=build/compiled``) smoke-tests the compiled build."""
    assert report["build"] == "none: flackd runs as installed (--build pure)"
    version = report["servers"]["flackd"]["version"]
    if os.environ.get("FLACK_EXPECT_COMPILED") == "1":
        assert f" compiled, from PYTHONPATH={os.environ['PYTHONPATH']}" in version, version
    else:
        assert version.endswith(" pure Python, the development tree"), version


@pytest.mark.subprocess
def test_the_machine_is_recorded_with_the_cost_of_a_loopback_writev(
    report: dict[str, Any],
) -> None:
    host = report["machine"]
    assert host["cpus"] >= 1
    assert host["python"]
    assert host["kernel"]
    assert host["writev_waking_us"] > 0
    assert host["writev_busy_us"] > 0
    assert report["settings"]["warmup_seconds"] > 0  # every setup is followed by a warm-up


@pytest.mark.subprocess
@pytest.mark.parametrize("server", SERVERS)
def test_messages_are_delivered_and_none_is_lost(report: dict[str, Any], server: str) -> None:
    for workload in ("fanout-10", "rooms", "latency", "channels"):
        for run in report["runs"][workload][server]:
            assert "error" not in run, run
            assert run["steps"], workload
            for step in run["steps"]:
                assert step["delivered"] > 0, (workload, step)
                assert step["deliveries_per_s"] > 0, (workload, step)
                assert step["delivered"] == step["expected"], (workload, step)
                assert step["lost"] == 0, (workload, step)
                assert step["reordered"] == 0, (workload, step)
                assert step["disconnects"] == 0, (workload, step)


@pytest.mark.subprocess
@pytest.mark.parametrize("server", SERVERS)
def test_small_rooms_deliver_to_every_room_and_report_messages_per_second(
    report: dict[str, Any], server: str
) -> None:
    """Every client joined its room, every sender sent, and each message reached the four
    other members of its room (not the 39 other clients): messages/s is deliveries/s / 4."""
    settings = report["settings"]
    assert (settings["rooms_clients"], settings["rooms_size"]) == (40, 5)
    assert settings["rooms_senders"] == 10
    for run in report["runs"]["rooms"][server]:
        assert "error" not in run, run
        assert run["best"] is not None, run
        for step in run["steps"]:
            assert step["members"] == 40, step
            assert step["senders"] == 10, step
            assert step["expected"] == 4 * step["sent"] > 0, step
            assert step["messages_per_s"] == pytest.approx(step["deliveries_per_s"] / 4, 0.01)


@pytest.mark.subprocess
@pytest.mark.parametrize("server", SERVERS)
def test_every_client_registers_and_joins(report: dict[str, Any], server: str) -> None:
    for workload in ("idle", "storm"):
        for run in report["runs"][workload][server]:
            assert run["joined"] == run["clients"] > 0, (workload, run)
    idle = report["runs"]["idle"][server][0]
    assert idle["rss_after"] > 0


@pytest.mark.subprocess
def test_cluster_delivers_on_both_nodes_and_reports_each_process_cpu(
    cluster_report: dict[str, Any],
) -> None:
    """Half the members are on the second node: every delivery expected arrived there too."""
    assert set(cluster_report["servers"]) == {"flackd-cluster"}
    for run in cluster_report["runs"]["fanout-10"]["flackd-cluster"]:
        assert "error" not in run, run
        assert run["steps"]
        for step in run["steps"]:
            assert step["delivered"] == step["expected"] > 0, step
            assert step["lost"] == step["reordered"] == step["disconnects"] == 0, step
            assert set(step["cpu_s"]) == {"node1", "node2", "redis-server"}, step
            assert all(seconds >= 0 for seconds in step["cpu_s"].values()), step


@pytest.mark.subprocess
def test_report_reprints_the_tables_and_a_markdown_table(
    report: dict[str, Any], tmp_path: Path
) -> None:
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(report))
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--report", str(saved)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    markdown = done.stdout.split("== Markdown\n", 1)[1].splitlines()
    assert markdown[0] == (
        "| workload | flackd | flackd-durable | relay | flackd / best C/C++ | flackd / relay "
        "| flackd-durable / flackd |"
    )
    assert len(markdown) == 2 + len(report["runs"])  # header, rule, one row per workload


def test_hotpath_timer_runs() -> None:
    """benchmarks/hotpath.py (no sockets beyond a socketpair) still matches the code."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "hotpath.py"),
            "--members",
            "5",
            "--count",
            "50",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Server._process (all of it)" in done.stdout
    assert "LineReader._take (one read, a line)" in done.stdout


def test_every_step_counts_the_servers_read_and_write_calls(report: dict[str, Any]) -> None:
    """/proc/<pid>/io's read and write calls, per process, in every measured step: flackd
    writes its sockets with writev (counted), the relay with send() (not counted there)."""
    for workload in ("fanout-10", "rooms", "latency", "channels"):
        for server, runs in report["runs"][workload].items():
            for run in runs:
                for step in run["steps"]:
                    calls = step["io_calls"]
                    assert all(r >= 0 and w >= 0 for r, w in calls.values()), (server, step)
                    if server.startswith("flackd"):
                        assert sum(w for _, w in calls.values()) > 0, (workload, server, step)


def test_a_flackd_variant_runs_with_its_own_flags(tmp_path_factory: pytest.TempPathFactory) -> None:
    variant = "flackd@write-delay-us=0"
    servers = f"flackd,{variant}"
    result = smoke(tmp_path_factory, "--servers", servers, "--workloads", "fanout")
    assert set(result["servers"]) == {"flackd", variant}
    assert "--write-delay-us 0 (this variant)" in result["servers"][variant]["raised"]
    for run in result["runs"]["fanout-10"][variant]:
        assert run["steps"], run
        assert all(s["lost"] == 0 for s in run["steps"]), run


def test_a_flackd_variant_runs_the_code_of_another_tree(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``flackd@src=DIR``: before and after in one run. The copy says it is another
    version, and the report shows the version the variant's environment imports."""
    tree = tmp_path_factory.mktemp("before")
    shutil.copytree(ROOT / "flackd", tree / "flackd", ignore=shutil.ignore_patterns("*.pyc"))
    init = tree / "flackd" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "', '__version__ = "9.9.9-'))
    variant = f"flackd@src={tree}"
    result = smoke(tmp_path_factory, "--servers", f"flackd,{variant}", "--workloads", "fanout")
    assert result["servers"][variant]["version"].startswith("9.9.9-")
    assert result["servers"][variant]["version"].endswith(f" from {tree.resolve()}")
    assert not result["servers"]["flackd"]["version"].startswith("9.9.9")
    for run in result["runs"]["fanout-10"][variant]:
        assert run["steps"], run
        assert all(s["lost"] == 0 for s in run["steps"]), run


@pytest.mark.subprocess
def test_flackd_is_measured_compiled_as_a_normal_install_builds_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``--build compiled`` (the default outside ``--smoke``): the run builds this tree's
    wheel with mypyc and every flackd server runs it, beside ``flackd@pure``, the
    development tree. Where nothing can be compiled the report says flackd ran pure."""
    result = smoke(  # a wheel built with mypyc first: about 25 s on an idle machine
        tmp_path_factory,
        *("--build", "compiled", "--servers", "flackd,flackd@pure", "--workloads", "fanout"),
        timeout=900,
    )
    versions = {name: server["version"] for name, server in result["servers"].items()}
    assert versions["flackd@pure"].endswith(" pure Python, the development tree"), versions
    compiler = shutil.which(os.environ.get("CC", "cc").split()[0])
    headers = Path(sysconfig.get_paths()["include"], "Python.h").is_file()
    if compiler and headers:
        assert re.fullmatch(r".+: \d+ modules compiled with mypyc in \d+ s", result["build"])
        assert " compiled, from " in versions["flackd"], versions
    else:  # flackd runs pure, and says why
        assert result["build"].endswith(": flackd runs pure Python"), result["build"]
        assert versions["flackd"].endswith(" pure Python, the development tree"), versions
    for name in ("flackd", "flackd@pure"):
        for run in result["runs"]["fanout-10"][name]:
            assert run["steps"], run
            assert all(s["lost"] == 0 and s["delivered"] > 0 for s in run["steps"]), run


def test_a_variant_from_a_tree_without_flackd_is_refused(tmp_path: Path) -> None:
    argv = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--no-install"]
    argv += ["--servers", f"flackd@src={tmp_path}", "--out", str(tmp_path / "x.json")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode != 0
    assert f"{tmp_path} holds no flackd package" in done.stderr


def test_a_failed_step_is_tried_again_before_it_counts(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A p99 limit no step can meet: every step fails, and each is run twice (fresh
    clients) before the ramp takes it as failed."""
    result = smoke(
        tmp_path_factory,
        *("--servers", "relay", "--workloads", "fanout", "--retries", "1"),
        *("--p99-limit-ms", "0.000001"),
    )
    for run in result["runs"]["fanout-10"]["relay"]:
        steps = run["steps"]
        assert [s["try"] for s in steps] == [1, 2], steps
        assert steps[0]["rate"] == steps[1]["rate"]
        assert not any(s["pass"] for s in steps)
        assert all(s["lost"] == 0 and s["delivered"] > 0 for s in steps), steps
        assert run["best"] is None
