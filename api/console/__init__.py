"""The operator console and the public pages: server-rendered HTML on the registry's services."""
