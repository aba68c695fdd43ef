"""Boosted trees fitted with LightGBM, evaluated with NumPy alone.

Training uses LightGBM (``assistant train``). Importing it costs seconds (it pulls in
scikit-learn), which the answer path cannot afford at start-up, so a fitted model is
saved as flat arrays (every tree's nodes side by side) and evaluated here; the tests
check these scores against LightGBM's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class TreeEnsemble:
    """Sum of regression trees: node arrays of all trees, concatenated."""

    feature: np.ndarray  # int32, -1 at leaves
    threshold: np.ndarray  # float64: go left when x <= threshold
    left: np.ndarray  # int32 absolute node index
    right: np.ndarray
    value: np.ndarray  # float64 leaf values
    roots: np.ndarray  # int32: each tree's root node
    base: float = 0.0

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's raw score (before any link function) for each row of ``x``."""
        x = np.asarray(x, dtype=np.float64)
        if not len(x):
            return np.zeros(0)
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        while True:
            inner = self.feature[node] >= 0
            if not inner.any():
                break
            values = x[rows, np.where(inner, self.feature[node], 0)]
            go_left = values <= self.threshold[node]
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, step, node)
        return self.value[node].sum(axis=1) + self.base

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            feature=self.feature,
            threshold=self.threshold,
            left=self.left,
            right=self.right,
            value=self.value,
            roots=self.roots,
            base=np.array([self.base]),
        )

    @classmethod
    def load(cls, path: Path) -> TreeEnsemble:
        with np.load(path) as saved:
            arrays = {k: saved[k] for k in saved.files}
        base = float(arrays.pop("base")[0])
        return cls(**arrays, base=base)


def from_lightgbm(booster) -> TreeEnsemble:
    """Flatten a fitted LightGBM booster (numerical splits only) into node arrays."""
    dump = booster.dump_model()
    nodes: list[tuple[int, float, int, int, float]] = []
    roots = []
    for tree in dump["tree_info"]:
        roots.append(_flatten(tree["tree_structure"], nodes))
    feature, threshold, left, right, value = (np.array(col) for col in zip(*nodes, strict=True))
    return TreeEnsemble(
        feature.astype(np.int32),
        threshold.astype(np.float64),
        left.astype(np.int32),
        right.astype(np.int32),
        value.astype(np.float64),
        np.array(roots, dtype=np.int32),
    )


def _flatten(node: dict, nodes: list) -> int:
    """Append ``node`` and its subtree; returns its index."""
    at = len(nodes)
    if "leaf_value" in node:
        nodes.append((-1, 0.0, at, at, float(node["leaf_value"])))
        return at
    if node.get("decision_type", "<=") != "<=":
        raise ValueError(f"unsupported split {node.get('decision_type')!r}")
    nodes.append((int(node["split_feature"]), float(node["threshold"]), 0, 0, 0.0))
    left = _flatten(node["left_child"], nodes)
    right = _flatten(node["right_child"], nodes)
    nodes[at] = (nodes[at][0], nodes[at][1], left, right, 0.0)
    return at
