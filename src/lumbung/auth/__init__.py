"""Users, roles and regional scopes."""
