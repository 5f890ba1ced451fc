"""Unit tests: the harness's pieces, without running techval as a whole."""
