"""Tests of credits_core.registry."""
