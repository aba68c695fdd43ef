"""Tests of assistant/web/."""
