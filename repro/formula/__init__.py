"""Formula repros: small computations of values a paper states, from the recipe they come from."""
