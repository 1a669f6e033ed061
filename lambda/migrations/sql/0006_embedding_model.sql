-- Which model embedded each chunk: vectors of different models are not comparable, so a search uses
-- only the chunks of the model that embedded the question. NULL: stored before this column existed
-- (the migrations function labels those rows with the stage's model when it applies this file).
ALTER TABLE chunks ADD COLUMN embedding_model text;
CREATE INDEX chunks_embedding_model ON chunks (embedding_model);
