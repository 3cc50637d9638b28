"""ReasonRank reasoning listwise reranking on top of Pyserini retrieval.

Importing the package only prepares Java settings for Pyserini; nothing heavy loads until used.
"""
from reasonrank_ir import java as _java
from reasonrank_ir.errors import ReasonRankError
from reasonrank_ir.types import Candidate, Query, Ranking, Run

_java.configure()

__version__ = "0.1.0"
__all__ = ["Candidate", "Query", "Ranking", "ReasonRankError", "Run", "__version__"]
