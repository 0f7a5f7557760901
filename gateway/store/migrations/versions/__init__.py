"""Migration revisions, oldest first. Each is a frozen snapshot: never import the models."""
