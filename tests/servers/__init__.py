"""Real servers for integration tests: each helper owns its process and binds to 127.0.0.1 only."""
