"""Readers and writers for the formats users already have: TREC runs and qrels, topics, JSONL."""
