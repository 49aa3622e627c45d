"""The intermediate representation: a validated spec -> one IR holding the whole run.

`resolve` names every layer and builds the `graph` (ModelGraph + TrainingPlan); `lower` turns
the `data:` section into ordered data steps. Every back end reads only this.
"""
