"""The `munin` check type: Munin plugins run unchanged (protocol: parsing; judge: Munin's master-side
arithmetic and limits; source: running the plugin and caching its config)."""
