"""The VPP Ledger energy token contract: Tgen, Tstorage, signed readings, offers and the burn algorithm."""
