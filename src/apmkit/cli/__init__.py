"""Command-line interface: a thin shell over the library.

Every module in this package that defines ``register(app: typer.Typer)`` is discovered by
:mod:`apmkit.cli.main` and adds its commands; no central list to edit.
"""
