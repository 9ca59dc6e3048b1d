"""Shared ground of the Bahela and Glamira pipelines: settings, time, formatting,
sample data and the `pipelines` command line."""
