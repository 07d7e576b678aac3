"""App wiring, configuration and channel adapters (Telegram, terminal)."""
