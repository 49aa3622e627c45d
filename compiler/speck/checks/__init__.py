"""Checks over the IR, without TensorFlow: static shapes, training and data checks.

`shapes` (one module per Keras layer family), `training` (losses, targets, callbacks against the
model), `data` (the pre-flight of data files), `devices`, `report`; `deep` builds with Keras.
"""
