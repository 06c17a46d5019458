"""Benchmarks: each module's ``run(quick)`` returns figures measured against a same-run baseline."""
