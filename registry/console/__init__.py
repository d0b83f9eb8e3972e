"""The operator console's own records: staff credentials, sessions and the audit trail."""
