"""Pre-treatments: declarations (read by schemas and the validator) and their implementations."""
