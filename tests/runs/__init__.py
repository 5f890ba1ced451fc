"""Whole-run tests: techval commands run as a user runs them (in this process, or a new one)."""
