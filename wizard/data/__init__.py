"""Data files shipped with the package (see README.md here for their sources and licences)."""
