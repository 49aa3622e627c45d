"""Plain functions that `speck train` calls and `speck emit` copies into standalone scripts.

Each module here is self-contained: it imports nothing from speck, keeps no state beyond imports
and constants, and gives every job its own top-level function, so that the emitter can copy a
function's source text (with the imports it uses) into a generated script that then needs only
TensorFlow and NumPy. TensorFlow and Keras are imported inside the functions that need them.
"""
