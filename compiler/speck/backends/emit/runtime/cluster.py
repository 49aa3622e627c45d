"""Training on a cluster with `tf.distribute.MultiWorkerMirroredStrategy`: what a program whose
spec says `distribute: multi_worker_mirrored` needs besides Keras, and nothing else.

Every machine runs the same program with the standard `TF_CONFIG` environment variable (the
cluster's addresses and this task's place in it), as on Kubernetes, Vertex AI or Slurm. The
chief writes the run folder; other workers write what Keras needs to folders of their own.
`speck emit` copies these functions only into the programs of such specs.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any


def fix_keras_multi_worker() -> None:
    """Make Keras 3's `fit`, `evaluate` and `predict` work under MultiWorkerMirroredStrategy.

    Keras 3 (up to 3.15 and its master branch at the time of writing; keras-team/keras#20585,
    tensorflow/tensorflow#72388) fails there in two private functions of
    `keras/src/backend/tensorflow/trainer.py`, which this replaces:
    1. `TensorFlowTrainer._maybe_symbolic_build` draws a batch and hands a tuple of per-replica
       values to `strategy.reduce`, which takes no nests: with more than one worker, "Attempt to
       convert a value (PerReplica:{...}) ... to a Tensor". It needs only shapes and dtypes, so
       they come from the dataset's `element_spec` (no batch drawn: a reshuffling dataset is
       no longer one shuffle ahead either).
    2. `reduce_per_replica` means scalar logs over `axis=0` across workers: "Invalid reduction
       dimension 0 for input with 0 dimensions". They are means across replicas, as with one
       worker (`axis=None`).
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "fixed_for_multi_worker", False):
        return  # already fixed in this process
    keras_reduce = trainer.reduce_per_replica

    def maybe_symbolic_build(self: Any, iterator: Any = None, data_batch: Any = None) -> None:
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            data_batch = iterator.data_adapter.get_tf_dataset().element_spec
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return keras_reduce(values, strategy, reduction)

    reduce_per_replica.fixed_for_multi_worker = True  # type: ignore[attr-defined]
    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica


def cluster_role(strategy: Any) -> tuple[bool, int]:
    """Whether this process is the chief (it writes the run folder), and how many workers
    train. As in TensorFlow's guide: the `chief` task, else worker 0; a process without
    `TF_CONFIG` is a cluster of one."""
    resolver = strategy.cluster_resolver
    jobs = resolver.cluster_spec().as_dict()
    first_worker = resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in jobs
    workers = len(jobs.get("chief", [])) + len(jobs.get("worker", []))
    return resolver.task_type in (None, "chief") or first_worker, max(workers, 1)


def worker_folder(strategy: Any, run_folder: Path, backup: str, resume: bool) -> Path:
    """A folder of this worker's own for what Keras writes here (its name fixed by task and run
    folder, emptied first). Resumed, it starts from a copy of the chief's backup in the shared
    run folder, so that every worker restores the same epoch."""
    resolver = strategy.cluster_resolver
    run = hashlib.sha256(str(run_folder.resolve()).encode()).hexdigest()[:12]
    name = f"speck-{resolver.task_type}-{resolver.task_id}-{run}"
    folder = Path(tempfile.gettempdir()) / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if resume and (run_folder / backup).is_dir():
        shutil.copytree(run_folder / backup, folder / backup)
    return folder
