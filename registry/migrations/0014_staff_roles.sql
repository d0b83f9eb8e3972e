-- Staff roles (issue 13): administrators admit members, change member status and manage
-- staff; reviewers work the queues. Operators made before roles existed keep every right.
ALTER TABLE operators ADD COLUMN role text NOT NULL DEFAULT 'administrator'
    CHECK (role IN ('administrator', 'reviewer'));
-- A disabled operator signs in to nothing and its keys are revoked (registry/console/staff.py).
ALTER TABLE operators ADD COLUMN disabled_at timestamptz;
