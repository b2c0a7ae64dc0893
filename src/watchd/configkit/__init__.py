"""The toolkit every config section reader uses: YAML with line numbers (`yamlfile`), typed readers
that collect every problem as FILE:LINE: key.path: message (`reader`), and secrets from files or
the environment (`secrets`). Sections live beside what they configure (bus/config.py, config/*);
`watchd.config` assembles them. May import `core` only."""
