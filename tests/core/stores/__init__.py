"""Tests of credits_core.stores."""
