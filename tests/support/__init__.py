"""Shared test support: real databases, real keys, real signed requests."""
