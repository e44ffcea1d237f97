"""Tests of the use cases' feature builders (`spark-ml new usecase NAME` writes test_<name>.py here)."""
