"""The command line `dailypapers`."""

from dailypapers.cli.main import app, main

__all__ = ["app", "main"]
