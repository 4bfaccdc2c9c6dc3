"""Build and prove: an engine session, compare, optimize (the only room that builds and runs)."""
