"""The runtime: settings, router, dialog persistence, delivery, scheduler and command line."""
