"""The flight-delay use case, composed from the generic transforms."""
