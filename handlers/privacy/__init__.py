"""Privacy: the privacy statement, a person's data export and erasure."""
