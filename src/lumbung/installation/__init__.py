"""This installation: the registry's identity and the data folder that belongs to it."""
