"""Tests of assistant/library/."""
