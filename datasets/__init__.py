"""Built-in datasets shipped as package data (see README.md)."""
