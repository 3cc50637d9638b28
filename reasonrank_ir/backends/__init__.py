"""LLM engines behind :class:`Backend`; each engine module imports its heavy library lazily."""
from reasonrank_ir.backends.base import Backend, Generation, Message, Prompt, Sampling

__all__ = ["Backend", "Generation", "Message", "Prompt", "Sampling"]
