"""Tests for insightome apps."""
