"""The fault and attack scenarios of `bench/faults.py`, one module per kind of fault."""
