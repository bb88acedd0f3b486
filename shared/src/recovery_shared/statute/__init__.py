"""The law, once: every statutory period, figure and rule the platform applies,
one module per concern, each figure beside the regulation it comes from.

Where the law leaves a choice to the council, the figure lives in the council's
TOML instead (``recovery_shared/council_default.toml``) and the module here says
so. Source numbers ([S1] ...) refer to ``../shared/domain.md``.
"""
