"""The hypothesis state machine over the service, on every store (``machine.py``; rules from the rows: ``model.py``)."""
