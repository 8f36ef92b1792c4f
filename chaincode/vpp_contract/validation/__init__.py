"""Validation of the contract's algorithms against independent models (not chaincode: floats and numpy allowed)."""
