"""Pure domain code: no ledger, no stub. Integers only."""
