"""The catalog of what Keras can be asked for, known without importing TensorFlow.

`lookup` reads the committed `catalog.json` (layers, arguments, docs), `rules` refines it by
hand (closed sets, ranges), `introspect` rewrites it from the installed Keras.
"""
