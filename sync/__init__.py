"""Federation: the change log feed, signed checkpoints, the feed consumer and the carrier mirror."""
