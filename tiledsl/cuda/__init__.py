"""``tiledsl.cuda``: TileLang's ``tilelang.cuda`` namespace, as far as tiledsl implements it.

Only :mod:`tiledsl.cuda.intrinsics` (hand-written tensor-core code: ``TensorCoreIntrinEmitter`` and the fragment
layouts it uses) lives here.
"""
