"""Payment partners and payee accounts (tables shared by the registry and delivery)."""
