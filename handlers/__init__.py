"""The conversation: channel-agnostic flows, validation and message catalogs."""
