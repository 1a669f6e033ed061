-- The sequencer of the last tag change applied to a document (its access tier can come from a tag):
-- a tag event older than the one applied changes nothing.
ALTER TABLE documents ADD COLUMN tags_sequencer text;
