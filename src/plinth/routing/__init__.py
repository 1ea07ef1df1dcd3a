"""Public model names mapped to deployments, and how a request picks one."""
