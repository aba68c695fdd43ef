"""Articles in: files, URLs, feeds and uploads turned into clean documents.

``formats`` maps each suffix to its parser (``ingest`` reads text and HTML), ``fetch``
with ``netguard`` fetches URLs without reaching private networks, ``inputs`` plans what
an index run reads, ``feeds``/``feed_parse``/``watch`` follow news feeds, ``duplicates``
finds syndicated copies and ``uploads`` keeps files from the web UI.
"""
