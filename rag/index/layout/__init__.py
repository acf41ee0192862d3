"""The files of one generation on disk: parts, chunk tables, manifests, what is reused."""
