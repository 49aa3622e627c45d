"""Back ends, each reading only the IR: build a live Keras model, emit the program, run it.

`build` (keras.Model), `emit` (the training program and the search script), `run` (`speck
train` runs emit's program into a run folder), `tune` (KerasTuner), `export`, `predict`.
"""
