"""The Gradio web app (``app``, with its ``feeds_tab``), its pure HTML ``format``-ting
functions and the deployment ``security`` (sign-in, request limits)."""
