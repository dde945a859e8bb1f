"""The synthetic emotional talking-face corpus: eSpeak NG speech + built-in-face motion, written
in 3DMEAD's layout (the embedded training data).

Modules: `espeak` (ctypes binding to libespeak-ng), `sentences`, `speakers` (identities and
their shape-driven articulation style), `visemes` (phonemes -> coarticulated mouth motion),
`emotion` (8 emotions x 3 levels in voice and face), `generate` (clips and the corpus),
`layout` (3DMEAD files, splits.json).
"""
