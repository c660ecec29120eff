"""Provenance: a keyed watermark on flagged traffic, and a test of a suspect model's text for it.

The model server biases its sampling towards a "green list" of tokens that a secret key picks
anew after every context (``keys.py``: the key, the green list; ``processor.py``: the bias, for
a sampler). A student trained on those answers learns the bias too ("Watermarking Makes
Language Models Radioactive", Sander et al., 2024), so a test over its text (``score.py``)
finds more green tokens than chance would give, with a p-value that is exact under the null:
for text made without the key, each distinct (context, token) pair is green with probability
``gamma``, independently. Repeated pairs are scored once, so templated text cannot fake it.
"""
