"""Email digests: confirmed subscriptions, schedules, topics, an outbox with exactly-once composition."""
