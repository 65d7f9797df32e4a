"""Community storage: reports and sanctions, questions, connections."""
