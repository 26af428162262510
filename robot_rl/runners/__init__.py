"""Training runners."""
