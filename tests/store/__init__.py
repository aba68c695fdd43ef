"""Tests of assistant/store/."""
