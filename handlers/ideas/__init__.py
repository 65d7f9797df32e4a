"""Ideas: submitting, browsing, discussing and triaging residents' ideas."""
