"""A question to a cited answer: ``query`` analysis, ``retrieval`` (the hybrid retriever),
the learned ranking read at run time (``features``, ``ranking``, ``trees``, ``compose``
and the model files in ``models/``), ``topicality`` checks, the ``extractive`` answerer,
the ``llm_answer`` with its chat ``backends`` and ``prompts``, the citation ``verify``-er,
``quotes`` and ``conversation`` (follow-up questions).
"""
