"""News storage: updates, broadcasts, subscriptions, staff cards and recipients."""
