"""Reliability: hostile ingress, kill points and the failure branches of every integrity check.

Each promise of the README's "Guarantees" section is held by a test here."""
