"""What this machine computes fast, judged without importing TensorFlow (validation must not).

Keras 3 takes a mixed-precision policy on any device without a word, but 16-bit arithmetic is
fast only where the hardware does it: float16 on NVIDIA GPUs (compute capability 7.0 and up),
bfloat16 on recent GPUs, TPUs and CPUs with AVX512-BF16 or AMX. On a CPU without those,
`mixed_float16` is many times slower than float32 (each step converts in software), so speck
warns when it sees no such device. The check reads what Linux reports (`/proc`); elsewhere it
sees no GPU and no bfloat16 CPU, and says so in the warning's words ("no device found").
"""

from __future__ import annotations

import os
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")
CPU_INFO = Path("/proc/cpuinfo")
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def has_nvidia_gpu() -> bool:
    """An NVIDIA GPU the driver reports, unless `CUDA_VISIBLE_DEVICES` hides them all."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    try:
        return NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())
    except OSError:
        return False


def cpu_has_bfloat16() -> bool:
    """The CPU computes bfloat16 in hardware (AVX512-BF16 or AMX), as Linux reports its flags."""
    try:
        text = CPU_INFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(BF16_CPU_FLAGS & set(line.partition(":")[2].split()))
    return False


def mixed_precision_problem(precision: str) -> str | None:
    """Why `precision` would be slow on this machine, or None when some device here runs it
    well (or it is float32)."""
    if precision == "float32" or has_nvidia_gpu():
        return None
    if precision == "mixed_bfloat16":
        if cpu_has_bfloat16():
            return None
        return (
            "no device found that computes bfloat16 fast (a GPU, a TPU, or a CPU with "
            "AVX512-BF16 or AMX); here mixed_bfloat16 may be slower than float32"
        )
    return "no GPU found: on a CPU, mixed_float16 is many times slower than float32"
