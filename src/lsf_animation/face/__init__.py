"""Faces: the FLAME layer and model-file loaders, the built-in face, shape fitting."""
