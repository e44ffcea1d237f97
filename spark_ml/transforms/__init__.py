"""Pure, domain-free DataFrame -> DataFrame helpers that chain with DataFrame.transform."""
