"""The box side of sync: outbox reconciler, feed puller, scheduler jobs, enrollment."""
