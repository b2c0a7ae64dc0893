"""The fleet console: `watchd console`."""
