"""Meetings (bijeenkomsten) and their registrations."""
