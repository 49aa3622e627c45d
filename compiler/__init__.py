"""speck: a declarative model-spec compiler for TensorFlow/Keras.

The pipeline, one module per stage:

    load      spec file -> raw mapping with source positions        (speck.load)
    validate  raw mapping -> typed spec (pydantic) + diagnostics     (speck.validate, speck.spec)
    resolve   typed spec -> model graph IR                          (speck.resolve, speck.graph)
    check     static shapes and graph/training checks, no TF        (speck.shapes, speck.checks)
    build     graph -> live tf.keras model                          (speck.build)
    emit      graph -> standalone training script (Jinja2)          (speck.emit)
    train     graph + data -> fit, evaluate, run folder             (speck.train, speck.runtime)

Nothing imported by this package's top level pulls in TensorFlow.
"""

__version__ = "0.1.0"
