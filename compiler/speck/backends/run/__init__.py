"""Run: `speck train` executes the emitted program into a run folder it owns.

`train` (pre-flight, the program, the summary), `folder` (where a run may write and what speck
may delete), `cluster` (local multi-worker runs), `tf_logs` (TensorFlow's start-up noise).
"""
