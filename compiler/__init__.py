"""speck: a declarative model-spec compiler for TensorFlow/Keras.

The pipeline, one module per stage:

    load      spec file -> raw mapping with source positions        (speck.load)
    validate  raw mapping -> typed spec (pydantic) + diagnostics     (speck.validate, speck.spec)
    resolve   typed spec -> model graph IR + training plan          (speck.resolve, speck.graph,
              (the data section lowered to data steps)                speck.lower)
    check     static shapes and graph/training checks, no TF        (speck.shapes, speck.checks)
    build     graph -> live tf.keras model                          (speck.build)
    emit      IR -> the training program (Jinja2 + runtime helpers)  (speck.emit, speck.runtime)
    train     runs emit's program into a run folder                 (speck.train)

Nothing imported by this package's top level pulls in TensorFlow.
"""

__version__ = "0.1.0"
