"""Learning from news: fitting the models the answer path reads (``assistant train``) and
the evaluations (``assistant eval``). Nothing at answer time imports this package; the
features, the tree evaluator and the shipped model files live in ``assistant.answer``.

- ``weeks``: the training data (weekly quiz questions with their articles), blocks of
  four consecutive weeks, the fixed held-out sample and the "supported" label.
- ``vectors``: an on-disk cache of chunk and sentence vectors keyed by model and text,
  so experiments and evaluations re-encode only what changed.
- ``dataset``, ``replay``, ``corpus``: training examples from replayed retrieval.
- ``fit``, ``train``: the tree and abstention fits and the written models with manifest.
- ``evaluation``, ``eval_report``: question-file evaluation (``make eval``) and its
  reports; ``evaluate``: the powered evaluation over held-out weeks (``make eval-train``).
"""
