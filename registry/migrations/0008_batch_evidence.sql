-- One evidence row per signed request, not per record: a batch of 1,000 supplies keeps its
-- token once, naming every record it wrote in record_ids (record_id is the first of them).
ALTER TABLE write_evidence ADD COLUMN record_ids text[];
CREATE INDEX write_evidence_records ON write_evidence USING gin (record_ids)
    WHERE record_ids IS NOT NULL;
