"""Tests of assistant/learn/."""
