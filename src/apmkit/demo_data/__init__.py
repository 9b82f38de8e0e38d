"""Inputs of `make demo` (the demo contract)."""
