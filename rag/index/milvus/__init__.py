"""The index on Milvus (a cluster, or milvus-lite in a file): the `RAG_STORE=milvus` backend."""
