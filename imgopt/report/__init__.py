"""Renderings of analysis results: JSON wire format, text tables, HTML, DataFrames."""
