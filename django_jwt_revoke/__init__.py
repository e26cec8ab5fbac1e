"""Revocable JSON Web Tokens for Django REST framework."""

__version__ = "0.1.0"
