"""Shipped example configs (package data, so `gdtrain fit` finds them by name after any install)."""
