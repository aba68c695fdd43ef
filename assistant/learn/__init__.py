"""Learning from news: the training weeks, the features the answer path is scored on,
the fitted models and the powered evaluation over weeks.

- ``weeks``: the training data (weekly quiz questions with their articles), blocks of
  four consecutive weeks, the fixed held-out sample and the "supported" label.
- ``vectors``: an on-disk cache of chunk and sentence vectors keyed by model and text,
  so experiments and evaluations re-encode only what changed.
"""
