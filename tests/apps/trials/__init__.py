"""Tests for the trial recruitment app."""
