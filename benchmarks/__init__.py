"""`make bench`: side-by-side measurements on this machine (see benchmarks/run.py)."""
