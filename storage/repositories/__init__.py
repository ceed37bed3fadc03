"""Repositories: the only modules that build SQL. One module per aggregate."""
