"""Start: the welcome and onboarding, the main menu, help and fallbacks."""
