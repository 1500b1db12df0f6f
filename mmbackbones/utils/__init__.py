"""Leaves every layer may import: the atomic file writer (:mod:`.fileio`) and what the CPU can
do (:mod:`.hardware`). Nothing here imports another module of ours."""
