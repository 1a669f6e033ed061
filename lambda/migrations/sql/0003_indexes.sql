-- Approximate nearest neighbour search on cosine distance, and btree indexes on the filter columns.
CREATE INDEX chunks_embedding_hnsw ON chunks
    USING hnsw (embedding vector_cosine_ops)
    WITH (m = {{HNSW_M}}, ef_construction = {{HNSW_EF_CONSTRUCTION}});
CREATE INDEX chunks_access_tier ON chunks (access_tier);
CREATE INDEX chunks_document_type ON chunks (document_type);
CREATE INDEX chunks_document_date ON chunks (document_date);
CREATE INDEX chunks_business_unit ON chunks (business_unit);
CREATE INDEX documents_status ON documents (status);
