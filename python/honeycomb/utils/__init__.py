"""Helpers of the Python Honeycomb framework that plugins' tests import."""
