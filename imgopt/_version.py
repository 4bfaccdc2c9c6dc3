"""The package version, in a module of its own so that any room can import it without the API."""

__version__ = "0.1.0"
