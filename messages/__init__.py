"""Content a communications officer edits without touching code.

``nl.toml`` and ``en.toml`` hold every text residents see; ``velsen.toml`` is the
municipality profile. This package holds no code: it only makes the files installable.
"""
