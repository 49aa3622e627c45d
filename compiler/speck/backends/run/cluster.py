"""`speck train --workers N`: N local worker processes joined into one tf.distribute cluster.

A cluster is described by the standard `TF_CONFIG` environment variable: every task's address
by job (`{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}`).
On a real cluster (Kubernetes, Vertex AI, Slurm) the platform sets it and each machine runs the
same `speck train SPEC --out DIR` (or the emitted script); `--workers N` makes one on this
machine, on free localhost ports, to try multi-worker training and to test it. The chief
(worker 0 when there is no `chief` job) writes the run folder; its output is streamed here, the
other workers' output goes to log files that are shown when a worker fails. When one fails the
others are given a grace period (a collective waits for a lost peer until its heartbeat times
out) and then stopped, process group and all. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 20.0
"""How long the other workers may take to stop by themselves once one has failed."""


@dataclass(frozen=True)
class Role:
    """This process's place in the cluster `TF_CONFIG` describes (none: a cluster of one)."""

    chief: bool
    workers: int
    task: str = ""


def role(environ: Mapping[str, str] = os.environ) -> Role:
    """Read `TF_CONFIG` as TensorFlow does, without TensorFlow: the `chief` task, else worker 0
    when the cluster has no chief, is the chief. Raises ValueError for text that is not a
    cluster description."""
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        return Role(True, 1)
    try:
        config = json.loads(text)
        cluster, task = config.get("cluster", {}), config.get("task", {})
        kind, index = task.get("type"), int(task.get("index", 0))
        workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"TF_CONFIG is not a cluster description: {exc}") from None
    chief = kind in (None, "chief") or (kind == "worker" and index == 0 and "chief" not in cluster)
    return Role(chief, max(workers, 1), f"{kind}:{index}")


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on localhost now (bound to port 0, then let go)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]


def tf_configs(count: int) -> list[str]:
    """The `TF_CONFIG` of each of `count` workers on free localhost ports."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(count)]}
    return [
        json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        for i in range(count)
    ]


def launch(command: Sequence[str], count: int, grace: float = GRACE_SECONDS) -> int:
    """Run `command` as `count` workers of one cluster and wait for them all: 0 when every
    worker succeeds, else the exit status of the first that failed (the rest are stopped)."""
    logs = Path(tempfile.mkdtemp(prefix="speck-workers-"))
    procs: list[subprocess.Popen[bytes]] = []
    failed: tuple[int, int] | None = None
    try:
        for index, config in enumerate(tf_configs(count)):
            env = {**os.environ, "TF_CONFIG": config}
            log = None if index == 0 else (logs / f"worker-{index}.log").open("wb")
            with log if log is not None else ExitStack():
                procs.append(
                    subprocess.Popen(
                        list(command),
                        env=env,
                        stdout=log,  # the chief's output is streamed: it inherits ours
                        stderr=None if log is None else subprocess.STDOUT,
                        start_new_session=True,  # its own process group, to stop it whole
                    )
                )
        while failed is None:
            codes = [p.poll() for p in procs]
            failed = next(((i, c) for i, c in enumerate(codes) if c not in (None, 0)), None)
            if all(c == 0 for c in codes):
                break
            time.sleep(0.2)
        if failed is not None:  # the others stop by themselves once they notice, or are stopped
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(p.poll() is None for p in procs):
                time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    if failed is None:
        shutil.rmtree(logs, ignore_errors=True)
        return 0
    report(*failed, count, logs)
    return failed[1] if failed[1] > 0 else 1


def report(index: int, code: int, count: int, logs: Path) -> None:
    """Say on standard error which worker failed, how, and where the others' output is."""
    how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    lines = [f"speck: worker {index} of {count} {how}; the cluster was stopped."]
    log = logs / f"worker-{index}.log"
    if log.exists():
        tail = log.read_bytes()[-3000:].decode("utf-8", "replace").rstrip()
        lines += [f"its last output ({log}):", tail]
    lines.append(
        f"the other workers' output: {logs}/; after fixing the cause, run the same command "
        "with --resume to continue from the last completed epoch"
    )
    print("\n".join(lines), file=sys.stderr, flush=True)
