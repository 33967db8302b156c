"""HTTP: the scoring API and the inspection workbench (later issues)."""
