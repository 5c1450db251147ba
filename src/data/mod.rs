//! Loading, tokenization, collation, cache.
