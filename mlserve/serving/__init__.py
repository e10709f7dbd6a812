"""Serving: resolve a model, preprocess, cache, bound the load, and call Triton."""
