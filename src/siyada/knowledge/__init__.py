"""The knowledge base: ingest an institution's documents and search them across languages."""

from siyada.knowledge.search import Filters, SearchMode
from siyada.knowledge.service import Hit, KnowledgeBase, QueryResults

__all__ = ["Filters", "Hit", "KnowledgeBase", "QueryResults", "SearchMode"]
