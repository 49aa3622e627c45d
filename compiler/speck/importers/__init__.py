"""Importers: an existing model file -> a readable spec (the reverse of build).

`keras` reads a `.keras` archive's architecture (config.json only, bounded) into a spec.
"""
