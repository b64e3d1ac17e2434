"""mlmsim: an agent-based simulator of multi-level marketing networks on Mesa."""

__version__ = "0.1.0"
