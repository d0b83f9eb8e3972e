"""The registry's domain: records, rules, validation and storage, with no knowledge of HTTP."""
