"""Interoperation with other interpretability libraries (optional extras, imported lazily)."""
