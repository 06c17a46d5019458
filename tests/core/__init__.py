"""Tests of credits_core (mirrors the package tree)."""
