"""Community: moderation, questions to the connector, the inbox and connections."""
