"""A chat assistant that answers questions about news articles with cited passages."""

import os

# Idle OpenMP threads sleep instead of spinning. Set before torch loads its OpenMP
# runtime: on a busy machine spinning threads made a single query's embedding up to
# 20x slower with two threads than with one (see docs/performance.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
