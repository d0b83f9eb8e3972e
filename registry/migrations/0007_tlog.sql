-- The Merkle tree over each origin's change log (API.md §15, docs/tlog.md). Leaf hashes
-- are read from change_log; the roots of full tiles (complete subtrees at levels 8, 16, ...)
-- are kept here so that proofs and tiles read a few hashes, not the whole log.
CREATE TABLE tlog_hashes (
    origin text     NOT NULL,
    level  smallint NOT NULL CHECK (level > 0 AND level % 8 = 0),
    idx    bigint   NOT NULL CHECK (idx >= 0),
    hash   bytea    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (origin, level, idx)
);

-- Tree heads of peers' logs that this node verified (consistent with every earlier one),
-- as the peer signed them, with this node's own cosignature as a witness.
CREATE TABLE tlog_checkpoints (
    origin      text        NOT NULL,
    size        bigint      NOT NULL CHECK (size >= 0),
    root        bytea       NOT NULL CHECK (length(root) = 32),
    note        text        NOT NULL,
    cosigned    text        NOT NULL,
    verified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, size)
);
