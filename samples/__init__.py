"""Small real-format evidence files and the deterministic generator that writes them
(``python -m samples.generate``)."""
