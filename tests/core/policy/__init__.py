"""Tests of credits_core.policy."""
